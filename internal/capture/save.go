package capture

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gitops-reverser/gitops-reverser/internal/attribution"
)

// ErrNotRunning says the target is not running: unknown to the pipeline, or suspended.
var ErrNotRunning = errors.New("the GitTarget is not running")

// SaveRequest asks a target to commit everything pending now, and push.
type SaveRequest struct {
	// Name names the request in its commit's Commit-Request trailer (namespace/name).
	Name string
	// Subject of the request's own commit, when it makes one; empty: "[SAVE] …".
	Subject string
	// Requester is who asked, the author of the request's own commit; nil: the operator.
	Requester *attribution.User
}

// SaveResult is what a save did.
type SaveResult struct {
	// Commit is the branch's tip on the remote once everything pending was pushed.
	Commit string
	// RequestCommit is the request's own commit; empty when the folder already held the
	// cluster's state once the pending changes were committed.
	RequestCommit string
}

// pendingSave is a SaveRequest waiting for the target's worker.
type pendingSave struct {
	req SaveRequest
	// upTo is the queue's last seq when the request came: those changes are committed first.
	upTo  uint64
	reply chan saveReply
}

type saveReply struct {
	commit string
	err    error
}

// Save commits every change pending on the target of key (each its own commit, by its own
// author, as always: a change waiting for its author still waits, at most --attribution-wait),
// then what the folder still lacks of the cluster's state as one commit by the requester, and
// pushes it all at once, whatever the push policy. It returns once the remote has it.
func (p *Pipeline) Save(ctx context.Context, key types.NamespacedName, req SaveRequest) (SaveResult, error) {
	p.mu.Lock()
	t, ok := p.targets[key]
	p.mu.Unlock()
	if !ok {
		return SaveResult{}, ErrNotRunning
	}
	// What people pushed counts: the request's own commit is what the folder then lacks.
	if _, err := t.writer.Refresh(ctx); err != nil {
		return SaveResult{}, fmt.Errorf("reading the branch of %s: %w", key, err)
	}
	ps := pendingSave{req: req, reply: make(chan saveReply, 1)}
	t.mu.Lock()
	ps.upTo = t.queue.seq
	t.saves = append(t.saves, ps)
	t.mu.Unlock()
	t.signal()
	var made saveReply
	select {
	case made = <-ps.reply:
	case <-ctx.Done():
		return SaveResult{}, fmt.Errorf("waiting for the pending changes of %s to be committed: %w", key, ctx.Err())
	case <-t.done:
		return SaveResult{}, ErrNotRunning
	}
	if made.err != nil {
		return SaveResult{}, made.err
	}
	if err := t.writer.Flush(ctx); err != nil {
		return SaveResult{RequestCommit: made.commit}, fmt.Errorf("pushing the commits of %s: %w", key, err)
	}
	return SaveResult{Commit: t.writer.Status().RemoteCommit, RequestCommit: made.commit}, nil
}

// saveNow runs on the worker once every change queued before the newest waiting request is
// committed (later ones may keep coming on a busy cluster; they are not waited for): the first
// request's reconcile makes its commit, and every request waiting then is answered with it. It
// returns when to try again (zero: done, or nothing to do).
func (t *target) saveNow(ctx context.Context) time.Time {
	t.mu.Lock()
	saves := t.saves
	if len(saves) == 0 || t.queue.waitsFrom(saves[len(saves)-1].upTo) {
		t.mu.Unlock()
		return time.Time{} // drain says when to look again
	}
	t.mu.Unlock()
	t.saving = &saves[0].req
	retry := t.reconcileNow(ctx, reasonSave)
	made := t.saved
	t.saving, t.saved = nil, ""
	if !retry.IsZero() {
		return retry // not ready (the writer reads the remote again)
	}
	t.mu.Lock()
	t.saves = t.saves[len(saves):]
	t.mu.Unlock()
	for i, s := range saves {
		commit := made
		if i > 0 {
			commit = "" // the first request's commit holds what the others would have written
		}
		s.reply <- saveReply{commit: commit}
	}
	return time.Time{}
}

// reasonSave is the Reconcile-Reason of a save's commit.
const reasonSave = "requested"

// saveMessage is the message of a save's own commit: the requester's subject, or one that says
// what it wrote, and the trailers of a reconcile commit with who asked.
func saveMessage(target, cluster string, req SaveRequest, written, removed int, watermark, newest uint64) string {
	subject := fmt.Sprintf("[SAVE] %s: %d written, %d removed", oneLine(target), written, removed)
	if s := strings.Join(strings.Fields(oneLine(req.Subject)), " "); s != "" {
		subject = s
	}
	user := unattributed
	if req.Requester != nil && req.Requester.Name != "" {
		user = req.Requester.Name
	}
	return fmt.Sprintf("%s\n\nKubernetes-User: %s\nKubernetes-Operation: RECONCILE\nReconcile-Reason: %s\nCommit-Request: %s\n%s",
		subject, oneLine(user), reasonSave, oneLine(req.Name), cursorTrailers(target, cluster, watermark, newest))
}
