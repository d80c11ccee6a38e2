package gitwriter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"
)

// ErrNoDefaultBranch says the repository is empty or names no default branch.
var ErrNoDefaultBranch = errors.New("the repository has no default branch")

// DefaultBranch asks the remote which branch its HEAD points at (main or master when it does not
// say), for the file-config mode, whose branch defaults to it. workDir holds the known_hosts file
// the SSH client reads.
func DefaultBranch(ctx context.Context, url string, creds Credentials, workDir string) (string, error) {
	if err := os.MkdirAll(workDir, 0o700); err != nil {
		return "", fmt.Errorf("creating %s: %w", workDir, err)
	}
	ep, err := newRemoteEndpoint(url, creds, filepath.Join(workDir, "known_hosts"))
	if err != nil {
		return "", err
	}
	remote := &goGitRemote{endpoint: ep}
	refs, err := remote.listWith(ctx, memory.NewStorage())
	if err != nil {
		return "", err
	}
	byName := map[plumbing.ReferenceName]*plumbing.Reference{}
	for _, ref := range refs {
		byName[ref.Name()] = ref
	}
	ref := defaultBranch(byName)
	if ref == nil {
		return "", fmt.Errorf("%w: %s", ErrNoDefaultBranch, url)
	}
	return ref.Name().Short(), nil
}
