package lambdarie

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
)

// Build builds every function's bootstrap for linux on this machine's
// architecture, as the Makefile's build-<LogicalId> targets do for Lambda
// (static, -tags lambda.norpc), into out/<logicalID>/bootstrap. dirs maps
// each logical id to its package under root/functions/. All are built by
// one go build, which compiles the packages they share once.
func Build(ctx context.Context, goCmd, root string, dirs map[string]string, out string) error {
	if goCmd == "" {
		goCmd = "go"
	}
	tmp, err := os.MkdirTemp(out, "build-")
	if err != nil {
		return fmt.Errorf("lambdarie: %w", err)
	}
	defer os.RemoveAll(tmp)
	ids := make([]string, 0, len(dirs))
	for id := range dirs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	args := []string{"build", "-tags", "lambda.norpc", "-o", tmp + string(filepath.Separator)}
	for _, id := range ids {
		args = append(args, "./functions/"+dirs[id])
	}
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("lambdarie: go build of the functions: %w\n%s", err, msg)
	}
	// go build -o dir/ names each binary after its package's directory.
	for _, id := range ids {
		dir := filepath.Join(out, id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("lambdarie: %w", err)
		}
		if err := os.Rename(filepath.Join(tmp, filepath.Base(dirs[id])), filepath.Join(dir, "bootstrap")); err != nil {
			return fmt.Errorf("lambdarie: function %s: %w", id, err)
		}
	}
	return nil
}
