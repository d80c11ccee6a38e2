package gitwriter

import (
	"bytes"
	"context"
	"errors"
	"io"
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
	// Every reconcile of a GitTarget applies its settings again: the same credentials keep the
	// remote, and with it the connection pushes share.
	_, working := w.remote.(*goGitRemote)
	same := working && credentialsEqual(w.cfg.Credentials, s.Credentials)
	w.cfg.Credentials, w.cfg.Push, w.cfg.Committer, w.cfg.Signer = s.Credentials, s.Push, s.Committer, s.Signer
	var err error
	if w.cfg.Remote == nil && !same { // a Remote given in Config is the caller's to manage
		var remote Remote
		if remote, err = w.newRemote(); err != nil {
			remote = brokenRemote{err: err}
		}
		w.retire(w.remote)
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

// retire closes a remote that was replaced, once no push uses it any more.
func (w *Writer) retire(old Remote) {
	c, ok := old.(io.Closer)
	if !ok || w.cfg.Remote != nil {
		return
	}
	if w.inFlight {
		w.retired = append(w.retired, c)
		return
	}
	w.closeRemote(c)
}

// closeRetired closes the remotes retired while a push was under way; Run calls it when the
// push ended.
func (w *Writer) closeRetired() {
	for _, c := range w.retired {
		w.closeRemote(c)
	}
	w.retired = nil
}

func (w *Writer) closeRemote(c io.Closer) {
	if err := c.Close(); err != nil {
		w.log.V(1).Info("Closing a replaced remote failed", "error", err.Error())
	}
}

func credentialsEqual(a, b Credentials) bool {
	return bytes.Equal(a.SSHPrivateKey, b.SSHPrivateKey) && bytes.Equal(a.Passphrase, b.Passphrase) &&
		bytes.Equal(a.KnownHosts, b.KnownHosts) && a.Username == b.Username && a.Password == b.Password &&
		a.BearerToken == b.BearerToken && bytes.Equal(a.CABundle, b.CABundle) && a.SSHAgent == b.SSHAgent
}

// newRemote builds the go-git remote for the current credentials.
func (w *Writer) newRemote() (Remote, error) {
	ep, err := newRemoteEndpoint(w.cfg.URL, w.cfg.Credentials, filepath.Join(w.cfg.WorkDir, "known_hosts"))
	if err != nil {
		return nil, err
	}
	return newGoGitRemote(ep, w.store)
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
