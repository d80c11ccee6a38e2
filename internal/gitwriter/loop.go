package gitwriter

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

// networkResult is what a background probe or push reports back to Run's goroutine.
type networkResult struct {
	push    bool
	commits int // pending commits the push carried
	objects int // pending objects the push carried
	tip     plumbing.Hash
	bytes   int
	took    time.Duration
	err     error
}

// Run owns the Writer's state until ctx ends. Network I/O runs on a second goroutine, so commits
// keep being made while a push is under way.
func (w *Writer) Run(ctx context.Context) error {
	w.log.Info("Starting Git writer")
	defer w.shutdown()
	w.maybeSend(ctx)
	for {
		var requests <-chan commitRequest
		if len(w.pending) < w.cfg.MaxPending {
			requests = w.requests
		}
		var timer <-chan time.Time
		var stopTimer func() bool
		if wake, ok := w.nextWake(); ok {
			t := w.clock.NewTimer(wake.Sub(w.clock.Now()))
			timer, stopTimer = t.C(), t.Stop
		}
		select {
		case <-ctx.Done():
			if stopTimer != nil {
				stopTimer()
			}
			return nil
		case req := <-requests:
			w.handleCommit(req)
			// Take what else is queued before pushing, so that a burst becomes one push.
			for drained := 0; drained < 256 && len(w.pending) < w.cfg.MaxPending; drained++ {
				select {
				case req := <-w.requests:
					w.handleCommit(req)
					continue
				default:
				}
				break
			}
		case done := <-w.flushes:
			w.flushWaiters = append(w.flushWaiters, done)
		case req := <-w.reconfigures:
			w.handleReconfigure(req)
		case req := <-w.filesRequests:
			w.handleFiles(req)
		case req := <-w.readRequests:
			w.handleRead(req)
		case req := <-w.historyRequests:
			w.handleHistory(req)
		case req := <-w.refreshes:
			w.refreshWaiters = append(w.refreshWaiters, req)
		case res := <-w.network:
			w.inFlight = false
			w.closeRetired()
			w.handleNetwork(ctx, res)
		case <-timer:
		}
		if stopTimer != nil {
			stopTimer()
		}
		w.handleRefreshes(ctx)
		w.maybeSend(ctx)
	}
}

// nextWake is when the loop must look again without any message arriving.
func (w *Writer) nextWake() (time.Time, bool) {
	if w.inFlight {
		return time.Time{}, false
	}
	if !w.synced || len(w.flushWaiters) > 0 {
		return w.retryAt, true
	}
	if w.clock.Now().Before(w.retryAt) && len(w.pending) > 0 {
		return w.retryAt, true
	}
	due, ok := w.cfg.Push.dueAt(len(w.pending), w.oldestPending)
	if !ok {
		return time.Time{}, false
	}
	if due.Before(w.retryAt) {
		due = w.retryAt
	}
	return due, true
}

// maybeSend starts a probe or a push when one is due and none is under way.
func (w *Writer) maybeSend(ctx context.Context) {
	if w.inFlight || ctx.Err() != nil {
		return
	}
	now := w.clock.Now()
	if now.Before(w.retryAt) {
		return
	}
	if !w.synced {
		if !w.reachable {
			w.startProbe(ctx)
			return
		}
		// The remote just answered (a conflict): fetch and replay at once, keeping the window
		// for the next conflict as short as we can.
		if err := w.sync(ctx); err != nil {
			w.fail(err)
			return
		}
	}
	if len(w.pending) == 0 {
		w.answerFlushes(nil)
		return
	}
	due, _ := w.cfg.Push.dueAt(len(w.pending), w.oldestPending)
	if len(w.flushWaiters) == 0 && now.Before(due) {
		return
	}
	w.startPush(ctx)
}

func (w *Writer) startProbe(ctx context.Context) {
	w.inFlight = true
	remote, timeout := w.remote, w.cfg.NetworkTimeout // Reconfigure may replace them meanwhile
	go func() {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		_, err := remote.Check(ctx)
		w.network <- networkResult{err: err}
	}()
}

func (w *Writer) startPush(ctx context.Context) {
	commits, objects := len(w.pending), len(w.pendingObjects)
	hashes := make([]plumbing.Hash, objects)
	for i, o := range w.pendingObjects {
		hashes[i] = o.hash
	}
	pack, err := w.store.pack(hashes, w.deltas)
	if err != nil {
		w.fail(err)
		return
	}
	old, tip := w.remoteTip, w.head.commit
	w.inFlight = true
	remote, timeout, branch := w.remote, w.cfg.NetworkTimeout, w.cfg.Branch // Reconfigure may replace them meanwhile
	go func() {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		start := time.Now()
		err := remote.Push(ctx, branch, old, tip, pack)
		w.network <- networkResult{push: true, commits: commits, objects: objects, tip: tip, bytes: len(pack), took: time.Since(start), err: err}
	}()
}

func (w *Writer) handleNetwork(ctx context.Context, res networkResult) {
	w.reachable = res.err == nil || errors.Is(res.err, ErrStale) || errors.Is(res.err, ErrRejected)
	if !res.push {
		if res.err != nil {
			w.fail(res.err)
			return
		}
		if err := w.sync(ctx); err != nil {
			w.fail(err)
			return
		}
		w.succeeded()
		return
	}
	w.cfg.Metrics.observePush(w.cfg.URL, w.cfg.Branch, res)
	switch {
	case res.err == nil:
		w.pushed(res)
	case errors.Is(res.err, ErrStale):
		// Someone else pushed: fetch their tip and replay on it. A few conflicts in a row are
		// normal on a busy branch; only beyond that do we back off.
		w.log.V(1).Info("Remote branch moved; replaying pending commits", "pending", len(w.pending))
		w.cfg.Metrics.conflict(w.cfg.URL, w.cfg.Branch)
		w.synced = false
		// Backing off would only let a busy pusher win every time; a little jitter breaks
		// lockstep with another client that retries on the same beat.
		w.retryAt = w.clock.Now().Add(time.Duration(rand.Int64N(int64(10 * time.Millisecond))))
	default:
		w.fail(res.err)
	}
}

// sync fetches the remote branch and rebuilds pending commits on it.
func (w *Writer) sync(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.NetworkTimeout)
	defer cancel()
	// The first fetch brings some history, for History; later ones only what moved.
	depth := 1
	if !w.synced {
		depth = w.cfg.HistoryDepth
	}
	tip, exists, err := w.remote.Fetch(ctx, w.cfg.Branch, depth)
	if err != nil {
		return err
	}
	remoteTip := plumbing.ZeroHash
	if exists {
		remoteTip = tip
		if w.landed(tip) {
			return nil
		}
	}
	// A tip we already build on (our own last push, or nothing new) needs no replay, which
	// would only decode the tree again.
	if !w.synced || remoteTip != w.remoteTip || remoteTip.IsZero() {
		if err := w.replay(tip); err != nil {
			return err
		}
	}
	w.remoteTip, w.synced = remoteTip, true
	w.log.V(1).Info("Synced with remote", "tip", short(tip), "branchExists", exists, "pending", len(w.pending))
	w.cfg.Metrics.setPending(w.cfg.URL, w.cfg.Branch, len(w.pending))
	w.updateStatus(func(s *Status) {
		s.RemoteTip, s.RemoteCommit, s.LocalTip, s.Pending = short(remoteTip), fullHash(remoteTip), short(w.head.commit), len(w.pending)
	})
	return nil
}

// landed handles a remote tip that is one of our pending commits: a push of ours went through
// though its answer was lost (the connection broke after the remote took it). Those commits are
// on the remote; replaying them on it would make each again, and an earlier state of a file
// written twice would come back between the two.
func (w *Writer) landed(tip plumbing.Hash) bool {
	for i, p := range w.pending {
		if p.hash != tip {
			continue
		}
		objects := 0
		if i == len(w.pending)-1 {
			objects = len(w.pendingObjects) // all pushed; otherwise the rest's pack carries them again
		}
		w.log.Info("A push went through though its answer was lost", "commits", i+1, "tip", short(tip))
		w.pushed(networkResult{push: true, commits: i + 1, objects: objects, tip: tip})
		w.synced = true
		return true
	}
	return false
}

func (w *Writer) pushed(res networkResult) {
	for i := 0; i < res.commits; i++ {
		w.pending[i] = nil
	}
	w.pending = w.pending[res.commits:]
	var trees []plumbing.Hash
	for _, o := range w.pendingObjects[:res.objects] {
		delete(w.pendingSet, o.hash)
		delete(w.deltas, o.hash)
		if o.typ == plumbing.TreeObject {
			trees = append(trees, o.hash)
		}
	}
	w.pendingObjects = w.pendingObjects[res.objects:]
	if len(w.pendingObjects) > 0 {
		// Under steady load something is always pending, and everything made since the last
		// quiet moment stayed: in a folder of 10,000 files, a whole 400 KB tree every
		// maxDeltaDepth commits. Pushed trees are never read again (the decoded tree holds what
		// later commits build on, and a later delta against one goes by name, as the remote has
		// it). Blobs and commits stay: Read and History may still ask for them.
		w.store.forget(trees)
	}
	if len(w.pending) > 0 {
		w.oldestPending = w.pending[0].made
	}
	w.remoteTip = res.tip
	w.cfg.Metrics.setPending(w.cfg.URL, w.cfg.Branch, len(w.pending))
	w.log.V(1).Info("Pushed", "commits", res.commits, "bytes", res.bytes, "tip", short(res.tip), "took", res.took.String())
	now := w.clock.Now()
	w.updateStatus(func(s *Status) {
		s.RemoteTip, s.RemoteCommit, s.Pending, s.LastPush = short(res.tip), fullHash(res.tip), len(w.pending), now
	})
	w.succeeded()
	if len(w.pendingObjects) == 0 {
		w.store.dropPushed()
	}
	if len(w.pending) == 0 {
		w.answerFlushes(nil)
	}
}

func (w *Writer) succeeded() {
	w.failures, w.retryAt = 0, time.Time{}
	w.updateStatus(func(s *Status) {
		if s.Reason != configv1alpha1.ReasonConnected {
			w.log.Info("Connected to remote")
		}
		s.Reason, s.Message = configv1alpha1.ReasonConnected, ""
	})
}

func (w *Writer) fail(err error) {
	w.failures++
	wait := retryBackoff(w.failures, w.cfg.RetryMin, w.cfg.RetryMax)
	w.retryAt = w.clock.Now().Add(wait)
	reason, message := Classify(err), Describe(w.cfg.URL, err)
	w.updateStatus(func(s *Status) {
		if s.Reason != reason || s.Message != message {
			w.log.Error(err, "Git remote failed; commits are kept and retried", "reason", reason, "retryIn", wait.String(), "pending", len(w.pending))
		}
		s.Reason, s.Message = reason, message
	})
	w.answerFlushes(err)
}

func (w *Writer) answerFlushes(err error) {
	for _, done := range w.flushWaiters {
		done <- err
	}
	w.flushWaiters = nil
}

// shutdown waits briefly for a push under way and makes one last attempt, so a clean stop loses
// no commit that the remote could take.
func (w *Writer) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if w.inFlight {
		select {
		case res := <-w.network:
			w.inFlight = false
			w.handleNetwork(ctx, res)
		case <-ctx.Done():
		}
	}
	if !w.inFlight && w.synced && len(w.pending) > 0 {
		w.startPush(ctx)
		select {
		case res := <-w.network:
			w.inFlight = false
			w.handleNetwork(ctx, res)
		case <-ctx.Done():
		}
	}
	if len(w.pending) > 0 {
		w.log.Info("Stopped with unpushed commits; the next start reconciles them", "pending", len(w.pending))
	}
	// A push still under way has had its time: closing its connection ends it.
	w.closeRetired()
	if c, ok := w.remote.(io.Closer); ok && w.cfg.Remote == nil {
		w.closeRemote(c)
	}
	w.answerFlushes(errors.New("the Git writer stopped"))
	for _, req := range w.refreshWaiters {
		req.reply <- refreshReply{err: errors.New("the Git writer stopped")}
	}
}
