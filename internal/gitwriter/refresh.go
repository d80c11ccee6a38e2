package gitwriter

import (
	"context"

	"github.com/go-git/go-git/v5/plumbing"
)

// refreshRequest asks the Writer to fetch the remote branch now, for the Git → cluster direction,
// which reads what other people pushed through the same client that writes.
type refreshRequest struct {
	reply chan refreshReply
}

type refreshReply struct {
	tip plumbing.Hash
	err error
}

// Refresh fetches the remote branch now and puts the Writer's head on its tip (pending commits
// replayed on top), so that Files and Read show what the remote holds. It returns the remote tip
// (zero while the branch does not exist). A refresh asked for while a push is under way waits
// for it, so one fetch serves both.
func (w *Writer) Refresh(ctx context.Context) (plumbing.Hash, error) {
	req := refreshRequest{reply: make(chan refreshReply, 1)}
	select {
	case w.refreshes <- req:
	case <-ctx.Done():
		return plumbing.ZeroHash, ctx.Err()
	}
	select {
	case r := <-req.reply:
		return r.tip, r.err
	case <-ctx.Done():
		return plumbing.ZeroHash, ctx.Err()
	}
}

// handleRefreshes answers the waiting refreshes with one fetch, unless network I/O is under way:
// then they wait for it.
func (w *Writer) handleRefreshes(ctx context.Context) {
	if len(w.refreshWaiters) == 0 || w.inFlight {
		return
	}
	err := w.sync(ctx)
	if err != nil {
		w.fail(err)
	} else {
		w.succeeded()
	}
	for _, req := range w.refreshWaiters {
		req.reply <- refreshReply{tip: w.remoteTip, err: err}
	}
	w.refreshWaiters = nil
}
