package samtemplate_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestCfnLint runs cfn-lint, when installed, on the template: it applies
// the SAM transform offline (AWS's own translator) and checks every
// resource's properties against CloudFormation's schemas, which the checks
// here do not model. Install it with `pip install cfn-lint`; without it,
// or with -short, the test is skipped.
func TestCfnLint(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("cfn-lint is not installed (pip install cfn-lint)")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, lint, filepath.Join(repoRoot, templateFile)).CombinedOutput()
	if err != nil {
		t.Errorf("cfn-lint %s: %v\n%s", templateFile, err, out)
	}
}
