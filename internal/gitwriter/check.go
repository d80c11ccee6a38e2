package gitwriter

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/storage/memory"
)

// Check connects to the repository at url with creds, authenticates, and lists its branches
// without changing anything: what a GitProvider's Ready condition reports. Its errors classify
// with Classify.
func Check(ctx context.Context, url string, creds Credentials) ([]string, error) {
	dir, err := os.MkdirTemp("", "gitops-reverser-check-")
	if err != nil {
		return nil, fmt.Errorf("checking %s: %w", url, err)
	}
	defer os.RemoveAll(dir)
	ep, err := newRemoteEndpoint(url, creds, filepath.Join(dir, "known_hosts"))
	if err != nil {
		return nil, err
	}
	// Listing needs no objects: an empty in-memory store is enough.
	r := &goGitRemote{endpoint: ep}
	return r.checkWith(ctx, memory.NewStorage())
}
