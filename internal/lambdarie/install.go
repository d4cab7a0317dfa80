package lambdarie

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
)

// The RIE release used, a Go module on the module proxy. Its
// managed-instances mode (cmd/aws-lambda-rie with
// AWS_LAMBDA_MAX_CONCURRENCY set) is what this package drives.
const (
	RIEPackage = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	RIEVersion = "v0.0.0-20261030222936-bef5c4ba774d"
)

// RIEDirEnv names a directory holding the aws-lambda-rie binary to use
// instead of the cached one.
const RIEDirEnv = "LAMBDA_RIE_DIR"

// InstallRIE returns the path of the aws-lambda-rie binary: under
// $LAMBDA_RIE_DIR if set, otherwise in the user cache directory
// (chat/aws-lambda-rie/<RIEVersion>), where it is built with `go install`
// on first use. goCmd is the go command ("go" if empty).
func InstallRIE(ctx context.Context, goCmd string, logger *slog.Logger) (string, error) {
	dir := os.Getenv(RIEDirEnv)
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("lambdarie: no cache directory for the RIE (set %s): %w", RIEDirEnv, err)
		}
		dir = filepath.Join(cache, "chat", "aws-lambda-rie", RIEVersion)
	}
	bin := filepath.Join(dir, "aws-lambda-rie")
	if st, err := os.Stat(bin); err == nil && st.Mode().IsRegular() {
		return bin, nil
	}
	if goCmd == "" {
		goCmd = "go"
	}
	if logger != nil {
		logger.Info("installing the Lambda Runtime Interface Emulator", "package", RIEPackage, "version", RIEVersion, "dir", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("lambdarie: %w", err)
	}
	cmd := exec.CommandContext(ctx, goCmd, "install", RIEPackage+"@"+RIEVersion)
	// Outside any module, so this project's go.mod neither constrains the
	// RIE's dependencies nor gains it as one.
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("lambdarie: go install %s@%s: %w\n%s", RIEPackage, RIEVersion, err, out)
	}
	return bin, nil
}
