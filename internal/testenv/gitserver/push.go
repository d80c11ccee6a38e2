package gitserver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// PushFiles commits files to branch of the bare repository at bareDir the way a person would:
// a clone, the files written (an empty content removes the file), a commit and a push with the
// git CLI. The branch is created when missing. It returns the new commit.
func PushFiles(t testing.TB, bareDir, branch, message string, files map[string]string) string {
	t.Helper()
	commit, err := pushFiles(t.Context(), t.TempDir(), bareDir, branch, message, files)
	if err != nil {
		t.Fatal(err)
	}
	return commit
}

// PushFilesContext is PushFiles outside a test, in the scratch directory tmp.
func PushFilesContext(ctx context.Context, tmp, bareDir, branch, message string, files map[string]string) (string, error) {
	return pushFiles(ctx, tmp, bareDir, branch, message, files)
}

func pushFiles(ctx context.Context, tmp, bareDir, branch, message string, files map[string]string) (string, error) {
	env := Env(tmp)
	work := filepath.Join(tmp, "work")
	if _, err := Run(ctx, tmp, env, "clone", "--quiet", bareDir, work); err != nil {
		return "", err
	}
	if _, err := Run(ctx, work, env, "checkout", "--quiet", "-B", branch); err != nil {
		return "", err
	}
	if _, err := Run(ctx, work, env, "ls-remote", "--exit-code", "origin", "refs/heads/"+branch); err == nil {
		if _, err := Run(ctx, work, env, "reset", "--quiet", "--hard", "origin/"+branch); err != nil {
			return "", err
		}
	}
	for path, content := range files {
		full := filepath.Join(work, filepath.FromSlash(path))
		if content == "" {
			if err := os.Remove(full); err != nil && !os.IsNotExist(err) {
				return "", fmt.Errorf("removing %s: %w", path, err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return "", fmt.Errorf("writing %s: %w", path, err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			return "", fmt.Errorf("writing %s: %w", path, err)
		}
	}
	if _, err := Run(ctx, work, env, "add", "--all"); err != nil {
		return "", err
	}
	if _, err := Run(ctx, work, env, "commit", "--quiet", "--allow-empty", "-m", message); err != nil {
		return "", err
	}
	// The operator may push to the same branch meanwhile: rebase on it and try again, as a
	// person would.
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		if _, err = Run(ctx, work, env, "push", "--quiet", "origin", "HEAD:refs/heads/"+branch); err == nil {
			break
		}
		if _, rerr := Run(ctx, work, env, "pull", "--quiet", "--rebase", "origin", branch); rerr != nil {
			return "", rerr
		}
	}
	if err != nil {
		return "", err
	}
	return Run(ctx, work, env, "rev-parse", "HEAD")
}
