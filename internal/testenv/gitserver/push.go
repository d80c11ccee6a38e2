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
	w, err := OpenWorkTree(ctx, tmp, bareDir, branch)
	if err != nil {
		return "", err
	}
	return w.Commit(ctx, message, files)
}

// WorkTree is a person's clone of a bare repository, on one branch, kept across commits: a
// clone per commit of a repository that grows by thousands of commits costs more than whatever
// a test measures.
type WorkTree struct {
	env         []string
	dir, branch string
}

// OpenWorkTree clones bareDir into tmp/work, on branch (created when missing).
func OpenWorkTree(ctx context.Context, tmp, bareDir, branch string) (*WorkTree, error) {
	w := &WorkTree{env: Env(tmp), dir: filepath.Join(tmp, "work"), branch: branch}
	if _, err := Run(ctx, tmp, w.env, "clone", "--quiet", bareDir, w.dir); err != nil {
		return nil, err
	}
	if _, err := Run(ctx, w.dir, w.env, "checkout", "--quiet", "-B", branch); err != nil {
		return nil, err
	}
	return w, nil
}

// Commit brings the work tree to the branch's tip, writes files (an empty content removes the
// file), commits and pushes, rebasing and trying again when someone pushed meanwhile. It
// returns the new commit.
func (w *WorkTree) Commit(ctx context.Context, message string, files map[string]string) (string, error) {
	if _, err := Run(ctx, w.dir, w.env, "ls-remote", "--exit-code", "origin", "refs/heads/"+w.branch); err == nil {
		if _, err := Run(ctx, w.dir, w.env, "fetch", "--quiet", "origin", w.branch); err != nil {
			return "", err
		}
		if _, err := Run(ctx, w.dir, w.env, "reset", "--quiet", "--hard", "origin/"+w.branch); err != nil {
			return "", err
		}
	}
	for path, content := range files {
		full := filepath.Join(w.dir, filepath.FromSlash(path))
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
	if _, err := Run(ctx, w.dir, w.env, "add", "--all"); err != nil {
		return "", err
	}
	if _, err := Run(ctx, w.dir, w.env, "commit", "--quiet", "--allow-empty", "-m", message); err != nil {
		return "", err
	}
	// The operator may push to the same branch meanwhile: rebase on it and try again, as a
	// person would.
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		if _, err = Run(ctx, w.dir, w.env, "push", "--quiet", "origin", "HEAD:refs/heads/"+w.branch); err == nil {
			break
		}
		if _, rerr := Run(ctx, w.dir, w.env, "pull", "--quiet", "--rebase", "origin", w.branch); rerr != nil {
			return "", rerr
		}
	}
	if err != nil {
		return "", err
	}
	return Run(ctx, w.dir, w.env, "rev-parse", "HEAD")
}
