// Package lambdarietest gives tests AWS's Lambda Runtime Interface
// Emulator, or skips them with the reason where it cannot be had.
package lambdarietest

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/chatroom/chat/internal/lambdarie"
)

// RIE returns the aws-lambda-rie binary, built once into the user cache
// from the Go module proxy. Without the proxy it cannot be had: the test
// is then skipped, unless CI is set, where it fails instead.
func RIE(ctx context.Context, t testing.TB) string {
	t.Helper()
	rie, err := lambdarie.InstallRIE(ctx, "go", nil)
	if err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("the Lambda Runtime Interface Emulator is not available (CI is set, so this fails instead of skipping): %v", err)
		}
		t.Skipf("skipping: the Lambda Runtime Interface Emulator is not available: %v\n"+
			"It is built with go install from the Go module proxy on first use; or set %s to a directory holding aws-lambda-rie.",
			err, lambdarie.RIEDirEnv)
	}
	return rie
}
