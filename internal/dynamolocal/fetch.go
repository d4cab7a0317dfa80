package dynamolocal

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"
)

const (
	// NPMPackage is the npm package that bundles DynamoDB Local.
	NPMPackage = "amplify-dynamodb-simulator"
	// NPMVersion is the version of [NPMPackage] that is fetched. It bundles
	// DynamoDB Local 1.25.1.
	NPMVersion = "2.9.30"
	// npmIntegrity is the registry's dist.integrity of NPMPackage@NPMVersion;
	// the packed tarball must match it.
	npmIntegrity = "sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ=="

	// DirEnv names the environment variable that overrides the cache
	// directory. Its value is a directory that directly contains
	// DynamoDBLocal.jar (or that Fetch may create).
	DirEnv = "DYNAMODB_LOCAL_DIR"

	jarName = "DynamoDBLocal.jar"
	libName = "DynamoDBLocal_lib"

	// archivePrefix is the folder of the npm tarball that holds the emulator.
	archivePrefix = "package/emulator/"
)

// DefaultDir returns the directory where the DynamoDB Local files are
// expected: $DYNAMODB_LOCAL_DIR if set, else
// <user cache dir>/chat/dynamodb-local/<NPMVersion>, where the user cache
// dir is $XDG_CACHE_HOME or ~/.cache on Linux.
func DefaultDir() (string, error) {
	if dir := os.Getenv(DirEnv); dir != "" {
		return filepath.Abs(dir)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("dynamolocal: finding the user cache directory (set %s instead): %w", DirEnv, err)
	}
	return filepath.Join(cache, "chat", "dynamodb-local", NPMVersion), nil
}

// Fetch makes sure the DynamoDB Local files are in the cache and returns
// their directory (see [DefaultDir]). When they are missing it runs
// `npm pack` in a temporary directory, verifies the tarball and unpacks its
// emulator folder. Concurrent calls, also from different processes, are
// safe: each unpacks into its own temporary directory and renames it into
// place, and a loser of that race uses the winner's files.
func Fetch(ctx context.Context, logger *slog.Logger) (dir string, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dir, err = DefaultDir()
	if err != nil {
		return "", err
	}
	if hasJar(dir) {
		logger.DebugContext(ctx, "DynamoDB Local found in cache", "dir", dir)
		return dir, nil
	}

	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("dynamolocal: DynamoDB Local is not in %s and npm is needed to fetch it: %w", dir, err)
	}

	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("dynamolocal: creating cache directory: %w", err)
	}
	removeStaleTemps(ctx, parent, filepath.Base(dir), logger)
	tmp, err := os.MkdirTemp(parent, ".fetch-"+filepath.Base(dir)+"-*")
	if err != nil {
		return "", fmt.Errorf("dynamolocal: creating temporary directory: %w", err)
	}
	defer func() {
		if rmErr := os.RemoveAll(tmp); rmErr != nil {
			logger.WarnContext(ctx, "removing temporary fetch directory", "dir", tmp, "err", rmErr)
		}
	}()

	start := time.Now()
	spec := NPMPackage + "@" + NPMVersion
	logger.InfoContext(ctx, "fetching DynamoDB Local with npm (about 55 MB, once)", "package", spec, "dir", dir)

	packDir := filepath.Join(tmp, "pack")
	if err := os.Mkdir(packDir, 0o755); err != nil {
		return "", fmt.Errorf("dynamolocal: %w", err)
	}
	cmd := exec.CommandContext(ctx, npm, "pack", "--ignore-scripts", spec)
	cmd.Dir = packDir
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false", "npm_config_fund=false", "npm_config_audit=false")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("dynamolocal: npm pack %s: %w\n%s", spec, err, tail(out.Bytes(), 2048))
	}
	tgzs, err := filepath.Glob(filepath.Join(packDir, "*.tgz"))
	if err != nil || len(tgzs) != 1 {
		return "", fmt.Errorf("dynamolocal: npm pack %s: expected one .tgz, found %d\n%s", spec, len(tgzs), tail(out.Bytes(), 2048))
	}
	logger.DebugContext(ctx, "npm pack done", "file", tgzs[0], "elapsed", time.Since(start))

	unpacked := filepath.Join(tmp, "emulator")
	if err := unpackEmulator(tgzs[0], unpacked); err != nil {
		return "", err
	}
	if !hasJar(unpacked) {
		return "", fmt.Errorf("dynamolocal: %s has no %s%s", spec, archivePrefix, jarName)
	}

	if err := os.Rename(unpacked, dir); err != nil {
		// Another process may have won the race; its files are as good.
		if hasJar(dir) {
			logger.DebugContext(ctx, "DynamoDB Local was fetched concurrently by another process", "dir", dir)
			return dir, nil
		}
		return "", fmt.Errorf("dynamolocal: moving DynamoDB Local into place (does %s exist without %s?): %w", dir, jarName, err)
	}
	logger.InfoContext(ctx, "fetched DynamoDB Local", "dir", dir, "elapsed", time.Since(start).Round(time.Millisecond))
	return dir, nil
}

// removeStaleTemps removes temporary fetch directories that a killed process
// left behind; an hour is far longer than any fetch.
func removeStaleTemps(ctx context.Context, parent, base string, logger *slog.Logger) {
	olds, _ := filepath.Glob(filepath.Join(parent, ".fetch-"+base+"-*"))
	for _, old := range olds {
		if fi, err := os.Stat(old); err == nil && time.Since(fi.ModTime()) > time.Hour {
			logger.DebugContext(ctx, "removing stale temporary fetch directory", "dir", old)
			_ = os.RemoveAll(old)
		}
	}
}

// hasJar reports whether dir directly contains DynamoDBLocal.jar.
func hasJar(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, jarName))
	return err == nil && fi.Mode().IsRegular()
}

// unpackEmulator verifies the npm tarball at tgzPath against npmIntegrity and
// extracts the regular files and directories under archivePrefix into dst.
func unpackEmulator(tgzPath, dst string) error {
	f, err := os.Open(tgzPath)
	if err != nil {
		return fmt.Errorf("dynamolocal: reading npm tarball: %w", err)
	}
	defer f.Close()
	h := sha512.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("dynamolocal: reading npm tarball: %w", err)
	}
	if got := "sha512-" + base64.StdEncoding.EncodeToString(h.Sum(nil)); got != npmIntegrity {
		return fmt.Errorf("dynamolocal: npm tarball integrity is %s, want %s", got, npmIntegrity)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("dynamolocal: reading npm tarball: %w", err)
	}

	gz, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return fmt.Errorf("dynamolocal: reading npm tarball: %w", err)
	}
	defer gz.Close()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("dynamolocal: %w", err)
	}

	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("dynamolocal: reading npm tarball: %w", err)
		}
		name, ok := strings.CutPrefix(path.Clean(hdr.Name), strings.TrimSuffix(archivePrefix, "/"))
		if !ok || (name != "" && name[0] != '/') {
			continue // outside package/emulator/
		}
		name = strings.TrimPrefix(name, "/")
		if name == "" {
			continue
		}
		if !filepath.IsLocal(name) {
			return fmt.Errorf("dynamolocal: npm tarball has unsafe path %q", hdr.Name)
		}
		target := filepath.Join(dst, filepath.FromSlash(name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("dynamolocal: %w", err)
			}
		case tar.TypeReg:
			if err := writeFile(target, tr, fs.FileMode(hdr.Mode)&0o755|0o644); err != nil {
				return err
			}
		default:
			// Links and special files are neither expected nor needed.
		}
	}
}

func writeFile(target string, r io.Reader, mode fs.FileMode) (err error) {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("dynamolocal: %w", err)
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return fmt.Errorf("dynamolocal: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("dynamolocal: %w", cerr)
		}
	}()
	if _, err := io.Copy(f, r); err != nil {
		return fmt.Errorf("dynamolocal: unpacking %s: %w", target, err)
	}
	return nil
}

// tail returns at most the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
