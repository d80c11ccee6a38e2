package gitwriter

import (
	"context"
	"errors"
	"path"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// Settings are the parts of a Writer's configuration that come from its GitProvider and may
// change while it runs.
type Settings struct {
	Credentials Credentials
	Push        PushPolicy
	Committer   Signature
	Signer      Signer
	// AllowedBranches are the provider's branch globs; empty allows every branch.
	AllowedBranches []string
}

// ErrBranchNotAllowed says a branch matches none of the provider's allowedBranches.
var ErrBranchNotAllowed = errors.New("branch not allowed")

// BranchAllowed reports whether branch matches one of the globs in allowed: `*` matches every
// branch, slashes included; other patterns are path.Match globs.
func BranchAllowed(branch string, allowed []string) bool {
	for _, pattern := range allowed {
		if pattern == "*" {
			return true
		}
		if ok, err := path.Match(pattern, branch); err == nil && ok {
			return true
		}
	}
	return false
}

type reconfigureRequest struct {
	settings Settings
	reply    chan error
}

// Reconfigure applies new settings without a restart: pending commits stay and are pushed with
// the new credentials. Settings that cannot be used (say, an SSH key without known_hosts) make
// every network operation fail with that error until they are fixed; nothing falls back to the
// old credentials.
func (w *Writer) Reconfigure(ctx context.Context, s Settings) error {
	req := reconfigureRequest{settings: s, reply: make(chan error, 1)}
	select {
	case w.reconfigures <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *Writer) handleReconfigure(req reconfigureRequest) {
	s := req.settings
	if s.Committer.Name == "" {
		s.Committer = w.cfg.Committer
	}
	w.cfg.Credentials, w.cfg.Push, w.cfg.Committer, w.cfg.Signer = s.Credentials, s.Push, s.Committer, s.Signer
	var err error
	if w.cfg.Remote == nil { // a Remote given in Config is the caller's to manage
		var remote Remote
		if remote, err = w.newRemote(); err != nil {
			remote = brokenRemote{err: err}
		}
		w.remote = remote
	}
	if err != nil {
		w.fail(err)
	} else {
		// New settings deserve an attempt now, not after the old backoff.
		w.failures, w.retryAt = 0, time.Time{}
	}
	req.reply <- err
}

// newRemote builds the go-git remote for the current credentials.
func (w *Writer) newRemote() (Remote, error) {
	ep, err := newRemoteEndpoint(w.cfg.URL, w.cfg.Credentials, filepath.Join(w.cfg.WorkDir, "known_hosts"))
	if err != nil {
		return nil, err
	}
	return &goGitRemote{endpoint: ep, store: w.store}, nil
}

// brokenRemote stands in for a remote whose settings cannot be used: it fails closed.
type brokenRemote struct{ err error }

func (b brokenRemote) Fetch(context.Context, string, int) (plumbing.Hash, bool, error) {
	return plumbing.ZeroHash, false, b.err
}
func (b brokenRemote) Push(context.Context, string, plumbing.Hash, plumbing.Hash, []byte) error {
	return b.err
}
func (b brokenRemote) Check(context.Context) ([]string, error) { return nil, b.err }
