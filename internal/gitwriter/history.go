package gitwriter

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// DefaultHistoryDepth is how many commits of a branch a Writer reads at start: enough for a
// target to find its own last commit among other targets' on a shared branch, and the changes
// committed above its watermark, without cloning the whole history.
const DefaultHistoryDepth = 256

// HistoryCommit is one commit of the branch, newest first.
type HistoryCommit struct {
	Hash    string
	Message string
}

type historyRequest struct {
	visit func(HistoryCommit) bool
	reply chan error
}

// History calls visit with each commit of the Writer's head, newest first along first parents,
// until visit returns false or the history the Writer holds ends (the depth of its first fetch,
// or a commit it made, pushed and no longer keeps). visit runs on the Writer's goroutine: it
// must not call the Writer.
func (w *Writer) History(ctx context.Context, visit func(HistoryCommit) bool) error {
	req := historyRequest{visit: visit, reply: make(chan error, 1)}
	select {
	case w.historyRequests <- req:
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

func (w *Writer) handleHistory(req historyRequest) {
	if !w.synced {
		req.reply <- ErrNotSynced
		return
	}
	at := w.head.commit
	for !at.IsZero() {
		obj, err := w.store.EncodedObject(plumbing.CommitObject, at)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			break // the end of what was fetched, or dropped after the push
		}
		if err != nil {
			req.reply <- fmt.Errorf("reading commit %s: %w", at, err)
			return
		}
		c, err := object.DecodeCommit(w.store, obj)
		if err != nil {
			req.reply <- fmt.Errorf("decoding commit %s: %w", at, err)
			return
		}
		if !req.visit(HistoryCommit{Hash: at.String(), Message: c.Message}) {
			break
		}
		if len(c.ParentHashes) == 0 {
			break
		}
		at = c.ParentHashes[0]
	}
	req.reply <- nil
}
