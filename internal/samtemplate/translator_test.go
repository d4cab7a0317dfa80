package samtemplate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"
)

// TestSAMTranslator runs AWS's SAM translator, the code behind `sam
// validate` and CloudFormation's AWS::Serverless transform, on the
// template when its Python package is installed (pip install
// aws-sam-translator; skipped without it or with -short). The template
// must translate, and each function's role must grant exactly the actions
// of the function's own statements: no SAM policy template or implicit
// policy may widen what internal/lambdatest proves each function needs.
func TestSAMTranslator(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	if err := exec.Command(python, "-c", "import samtranslator").Run(); err != nil {
		t.Skip("AWS's SAM translator is not installed (pip install aws-sam-translator)")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, filepath.Join("testdata", "translate.py"), filepath.Join(repoRoot, templateFile))
	cmd.Env = append(os.Environ(), "AWS_DEFAULT_REGION=us-east-1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the SAM translator refuses %s: %v\n%s", templateFile, err, stderr.String())
	}
	var translated struct {
		Resources int                 `json:"resources"`
		Roles     map[string][]string `json:"roles"`
	}
	if err := json.Unmarshal(out, &translated); err != nil {
		t.Fatalf("translate.py printed %q: %v", out, err)
	}
	t.Logf("the SAM translator accepts %s: %d CloudFormation resources", templateFile, translated.Resources)

	m := loadModel(t)
	for _, fn := range m.ofType(typeFunction) {
		role, ok := translated.Roles[fn+"Role"]
		if !ok {
			t.Errorf("%s: the translation has no role %sRole", fn, fn)
			continue
		}
		if want := statementActions(m, fn); !slices.Equal(role, want) {
			t.Errorf("%s: its role grants %v, its statements %v", fn, role, want)
		}
	}
}

// statementActions lists, sorted, the actions of a function's Statement
// policies.
func statementActions(m *model, fn string) []string {
	set := map[string]bool{}
	for _, pol := range asList(m.tmpl.Resources[fn].Properties["Policies"]) {
		for _, st := range asList(asMap(pol)["Statement"]) {
			for _, a := range asList(asMap(st)["Action"]) {
				set[str(a)] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}
