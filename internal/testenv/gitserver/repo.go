package gitserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// InitBareRepo creates the bare repository name (".git" is appended when
// missing; "team/app" nests) under root and returns its absolute path.
//
// The repository refuses non-fast-forward pushes like a protected production
// remote would, so force-push bugs surface in tests, and it enables
// receive-pack over HTTP, which git-http-backend otherwise only allows for
// requests it considers authenticated.
func InitBareRepo(ctx context.Context, root, name string) (string, error) {
	rel, err := repoRelPath(name)
	if err != nil {
		return "", err
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("resolving repository root %s: %w", root, err)
	}
	dir := filepath.Join(absRoot, filepath.FromSlash(rel))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating repository directory: %w", err)
	}
	env := Env(absRoot)
	steps := [][]string{
		{"init", "--quiet", "--bare", "--initial-branch=main", dir},
		{"-C", dir, "config", "receive.denyNonFastForwards", "true"},
		{"-C", dir, "config", "http.receivepack", "true"},
	}
	for _, args := range steps {
		if _, err := Run(ctx, absRoot, env, args...); err != nil {
			return "", fmt.Errorf("initialising bare repository %s: %w", name, err)
		}
	}
	return dir, nil
}

// NewBareRepo is [InitBareRepo] for tests: it fails t on error.
func NewBareRepo(t testing.TB, root, name string) string {
	t.Helper()
	dir, err := InitBareRepo(t.Context(), root, name)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return dir
}

// repoRelPath validates a repository name as it appears in a URL and returns
// it relative to the server root with a ".git" suffix. Only plain path
// segments are allowed, so a client cannot climb out of the root with ".."
// or reach other files through an absolute path.
func repoRelPath(name string) (string, error) {
	trimmed := strings.TrimPrefix(name, "/")
	if trimmed == "" {
		return "", errors.New("empty repository path")
	}
	if strings.ContainsAny(trimmed, "\x00\\") {
		return "", fmt.Errorf("repository path %q contains a forbidden character", name)
	}
	for seg := range strings.SplitSeq(trimmed, "/") {
		switch {
		case seg == "", seg == ".", seg == "..":
			return "", fmt.Errorf("repository path %q has an empty, '.' or '..' segment", name)
		case strings.HasPrefix(seg, "-"), strings.HasPrefix(seg, "~"):
			// git treats these as options or home directories; never a repo here.
			return "", fmt.Errorf("repository path %q has a segment starting with %q", name, seg[:1])
		}
	}
	if !strings.HasSuffix(trimmed, ".git") {
		trimmed += ".git"
	}
	return trimmed, nil
}

// resolveRepo maps a client-supplied repository path to an existing bare
// repository inside root. Symlinks are resolved before the containment check
// because a link inside root could otherwise point anywhere on disk.
func resolveRepo(root, name string) (string, error) {
	rel, err := repoRelPath(name)
	if err != nil {
		return "", err
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("resolving repository root: %w", err)
	}
	dir, err := filepath.EvalSymlinks(filepath.Join(realRoot, filepath.FromSlash(rel)))
	if err != nil {
		return "", fmt.Errorf("repository %q not found", name)
	}
	inside, err := filepath.Rel(realRoot, dir)
	if err != nil || inside == "." || inside == ".." || strings.HasPrefix(inside, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("repository %q resolves outside the server root", name)
	}
	if !isBareRepo(dir) {
		return "", fmt.Errorf("repository %q is not a bare repository", name)
	}
	return dir, nil
}

// isBareRepo checks the layout git itself requires of a git directory. Without
// it git-receive-pack would fall back to "<dir>/.git" and serve a repository
// other than the one that passed the containment check.
func isBareRepo(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
		return false
	}
	for _, name := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}
