// Package deploy_test runs deploy.sh against stand-in sam and aws commands
// that record what they are asked, so the script's flow (never prompting,
// an empty change set still uploading the web client) is held without an
// AWS account.
package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// stubSAM behaves as the SAM CLI does for a stack that is already up to
// date: `sam deploy` finds an empty change set and fails unless told that
// this is fine (--no-fail-on-empty-changeset). Every call is logged.
const stubSAM = `#!/usr/bin/env bash
echo "sam $*" >> "$STUB_LOG"
if [ "$1" = deploy ]; then
  echo "No changes to deploy. Stack chat is up to date"
  case " $* " in
    *" --no-fail-on-empty-changeset "*|*" --guided "*) exit 0 ;;
  esac
  echo "Error: No changes to deploy. Stack chat is up to date" >&2
  exit 1
fi
`

// stubAWS answers describe-stacks with made-up outputs and records what
// s3 sync and s3 cp would upload.
const stubAWS = `#!/usr/bin/env bash
echo "aws $*" >> "$STUB_LOG"
case "$1 $2" in
  "cloudformation describe-stacks")
    case "$*" in
      *HttpApiUrl*)    echo "https://h.example/prod" ;;
      *WebSocketUrl*)  echo "wss://w.example/prod" ;;
      *WebUrl*)        echo "https://d123.cloudfront.net" ;;
      *WebBucketName*) echo "web-bucket" ;;
    esac ;;
  "s3 sync")
    (cd "$3" && find . -type f | sort) > "$STUB_DIR/synced"
    cp "$3/config.json" "$STUB_DIR/synced-config.json" 2>/dev/null || true ;;
  "s3 cp")
    cp "$3" "$STUB_DIR/copied-config.json" ;;
  "cloudfront list-distributions")
    echo "E123" ;;
esac
exit 0
`

type run struct {
	log    []string // one line per sam or aws call
	dir    string
	output string
}

func (r run) calls(prefix string) []string {
	var out []string
	for _, l := range r.log {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

func deploy(t *testing.T, env ...string) run {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"sam": stubSAM, "aws": stubAWS, "go": "#!/usr/bin/env bash\nexit 0\n"} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	logPath := filepath.Join(dir, "log")
	cmd := exec.Command(bash, "deploy.sh")
	// The stand-ins come first; the system's own tools (mktemp, cp, find)
	// after them. No terminal: anything that prompts would fail.
	cmd.Env = append([]string{
		"PATH=" + bin + string(os.PathListSeparator) + "/usr/bin:/bin",
		"HOME=" + dir,
		"STUB_LOG=" + logPath,
		"STUB_DIR=" + dir,
	}, env...)
	cmd.Stdin = nil
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("deploy.sh failed: %v\n%s", err, out)
	}
	raw, _ := os.ReadFile(logPath)
	return run{log: strings.Split(strings.TrimSpace(string(raw)), "\n"), dir: dir, output: string(out)}
}

// An up-to-date stack (empty change set) still gets the web client and its
// config.json, and nothing asks a question.
func TestDeployEmptyChangeSetStillUploadsWeb(t *testing.T) {
	r := deploy(t)

	deploys := r.calls("sam deploy")
	if len(deploys) != 1 {
		t.Fatalf("sam deploy ran %d times, want once: %q", len(deploys), r.log)
	}
	args := strings.Fields(deploys[0])
	for _, want := range []string{"--no-confirm-changeset", "--no-fail-on-empty-changeset", "--no-progressbar"} {
		if !slices.Contains(args, want) {
			t.Errorf("sam deploy was run without %s: %q", want, deploys[0])
		}
	}
	for _, interactive := range []string{"--guided", "-g", "--confirm-changeset"} {
		if slices.Contains(args, interactive) {
			t.Errorf("sam deploy was run with %s, which prompts: %q", interactive, deploys[0])
		}
	}

	synced, err := os.ReadFile(filepath.Join(r.dir, "synced"))
	if err != nil {
		t.Fatalf("web/ was not synced to the bucket after an empty change set: %v\ncalls: %q", err, r.log)
	}
	for _, f := range []string{"./index.html", "./config.json"} {
		if !slices.Contains(strings.Fields(string(synced)), f) {
			t.Errorf("the sync did not upload %s; it uploaded:\n%s", f, synced)
		}
	}
	if len(r.calls("aws s3 sync")) != 1 || !strings.Contains(r.calls("aws s3 sync")[0], "s3://web-bucket/") {
		t.Errorf("want one aws s3 sync to s3://web-bucket/, got %q", r.calls("aws s3 sync"))
	}
	cfg, err := os.ReadFile(filepath.Join(r.dir, "copied-config.json"))
	if err != nil {
		t.Fatalf("config.json was not copied with its own cache headers: %v", err)
	}
	want := `{"httpApiUrl": "https://h.example/prod", "webSocketUrl": "wss://w.example/prod"}`
	if strings.TrimSpace(string(cfg)) != want {
		t.Errorf("config.json is %s, want %s", cfg, want)
	}
	if cp := r.calls("aws s3 cp"); len(cp) != 1 || !strings.Contains(cp[0], "--cache-control no-store") {
		t.Errorf("config.json must be uploaded with --cache-control no-store: %q", cp)
	}
	if len(r.calls("aws cloudfront create-invalidation")) != 1 {
		t.Errorf("CloudFront was not invalidated: %q", r.log)
	}
}

// GUIDED=1 hands the questions to sam deploy --guided.
func TestDeployGuided(t *testing.T) {
	r := deploy(t, "GUIDED=1")
	deploys := r.calls("sam deploy")
	if len(deploys) != 1 || !slices.Contains(strings.Fields(deploys[0]), "--guided") {
		t.Fatalf("with GUIDED=1, want one sam deploy --guided, got %q", deploys)
	}
	if len(r.calls("aws s3 sync")) != 1 {
		t.Errorf("the guided deploy did not upload web/: %q", r.log)
	}
}

// STACK and REGION reach every call that names a stack or region.
func TestDeployStackAndRegion(t *testing.T) {
	r := deploy(t, "STACK=chat-test", "REGION=eu-west-1")
	for _, l := range slices.Concat(r.calls("sam deploy"), r.calls("aws cloudformation")) {
		if !strings.Contains(l, "chat-test") || !strings.Contains(l, "eu-west-1") {
			t.Errorf("%q does not name stack chat-test in eu-west-1", l)
		}
	}
}
