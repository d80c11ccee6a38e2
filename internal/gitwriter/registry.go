package gitwriter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/go-logr/logr"
)

// Key names a Writer: there is exactly one per repository URL and branch.
type Key struct {
	URL    string
	Branch string
}

// Registry runs one Writer per Key and shares it among everyone who writes to that branch (every
// GitTarget on it), so two targets on one branch never race each other for the tip. It is a
// manager.Runnable: Writers run until the manager stops, then flush what they can.
type Registry struct {
	// BaseDir holds the Writers' work directories.
	BaseDir string
	Metrics *Metrics
	Log     logr.Logger
	// OnStatus is told when a Writer's health (reason or message) changes.
	OnStatus func(Key, Status)

	mu       sync.Mutex
	ctx      context.Context
	writers  map[Key]*registered
	stopping map[Key]chan struct{} // Writers released but still flushing
	wg       sync.WaitGroup
}

type registered struct {
	writer  *Writer
	cancel  context.CancelFunc
	stopped chan struct{}
	users   map[string]struct{}
}

// Start runs until ctx ends, then stops every Writer and waits for them.
func (r *Registry) Start(ctx context.Context) error {
	r.mu.Lock()
	r.ctx = ctx
	if r.writers == nil {
		r.writers = map[Key]*registered{}
		r.stopping = map[Key]chan struct{}{}
	}
	r.mu.Unlock()
	<-ctx.Done()
	r.wg.Wait()
	return nil
}

// NeedLeaderElection: only the leader writes to Git.
func (r *Registry) NeedLeaderElection() bool { return true }

// ErrNotStarted says Acquire was called before the Registry started (or after it stopped).
var ErrNotStarted = errors.New("the Git writer registry is not running")

// Acquire returns the Writer for key on behalf of user (say, "GitTarget default/live"),
// starting it with settings when it is not running, and applying settings when it is.
func (r *Registry) Acquire(ctx context.Context, user string, key Key, settings Settings) (*Writer, error) {
	if len(settings.AllowedBranches) > 0 && !BranchAllowed(key.Branch, settings.AllowedBranches) {
		return nil, fmt.Errorf("%w: %s matches none of %v", ErrBranchNotAllowed, key.Branch, settings.AllowedBranches)
	}
	r.mu.Lock()
	// A released Writer of this key may still be pushing its last commits from the same work
	// directory: let it finish first.
	for stopped, ok := r.stopping[key]; ok; stopped, ok = r.stopping[key] {
		r.mu.Unlock()
		select {
		case <-stopped:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		r.mu.Lock()
	}
	if r.ctx == nil || r.ctx.Err() != nil {
		r.mu.Unlock()
		return nil, ErrNotStarted
	}
	if reg, ok := r.writers[key]; ok {
		reg.users[user] = struct{}{}
		r.mu.Unlock()
		if err := reg.writer.Reconfigure(ctx, settings); err != nil {
			return reg.writer, fmt.Errorf("applying settings to the writer of %s %s: %w", key.URL, key.Branch, err)
		}
		return reg.writer, nil
	}
	defer r.mu.Unlock()
	w, err := New(Config{
		URL: key.URL, Branch: key.Branch, Credentials: settings.Credentials, Push: settings.Push,
		Committer: settings.Committer, Signer: settings.Signer,
		WorkDir: filepath.Join(r.BaseDir, workDirName(key)),
		Log:     r.Log, Metrics: r.Metrics,
		OnStatus: func(s Status) {
			if r.OnStatus != nil {
				r.OnStatus(key, s)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("starting the writer of %s %s: %w", key.URL, key.Branch, err)
	}
	wctx, cancel := context.WithCancel(r.ctx)
	reg := &registered{writer: w, cancel: cancel, stopped: make(chan struct{}), users: map[string]struct{}{user: {}}}
	r.writers[key] = reg
	r.Metrics.setWriters(len(r.writers))
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(reg.stopped)
		_ = w.Run(wctx) // Run only returns when wctx ends
		r.mu.Lock()
		if r.stopping[key] == reg.stopped {
			delete(r.stopping, key)
		}
		r.mu.Unlock()
	}()
	return w, nil
}

// Release drops user's hold on key's Writer; the last user stops it (after a final push).
func (r *Registry) Release(user string, key Key) {
	r.mu.Lock()
	defer r.mu.Unlock()
	reg, ok := r.writers[key]
	if !ok {
		return
	}
	delete(reg.users, user)
	if len(reg.users) == 0 {
		reg.cancel()
		delete(r.writers, key)
		r.stopping[key] = reg.stopped
		r.Metrics.setWriters(len(r.writers))
	}
}

// Statuses returns the status of every running Writer for url, by branch.
func (r *Registry) Statuses(url string) map[string]Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]Status{}
	for key, reg := range r.writers {
		if key.URL == url {
			out[key.Branch] = reg.writer.Status()
		}
	}
	return out
}

// workDirName is a stable, filesystem-safe directory name for key.
func workDirName(key Key) string {
	sum := sha256.Sum256([]byte(key.URL + "\x00" + key.Branch))
	return hex.EncodeToString(sum[:12])
}
