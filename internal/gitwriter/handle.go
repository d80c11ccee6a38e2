package gitwriter

import (
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
)

// handleCommit turns one change into a local commit on the head.
func (w *Writer) handleCommit(req commitRequest) {
	result, err := w.commitChange(req.change)
	if err != nil {
		// The tree may be half-changed: rebuild it from the last good commit when that is the
		// remote's tip, else from the remote's tip with the pending commits replayed on it (the
		// trees of pending commits may be deltas against trees dropped after their push).
		if h, herr := w.headAt(w.head.commit); herr == nil && w.head.commit == w.remoteTip && h.tree.load(h.tree.root) == nil {
			w.head = h
		} else {
			w.head = &head{tree: newTree(w.store, plumbing.ZeroHash)}
			w.synced = false
		}
	}
	req.reply <- commitReply{result: result, err: err}
}

func (w *Writer) commitChange(ch Change) (Result, error) {
	ops := make([]treeOp, len(ch.Ops))
	for i, op := range ch.Ops {
		ops[i] = treeOp{path: op.Path, delete: op.Delete}
		if !op.Delete {
			blob := newObject(plumbing.BlobObject, op.Data)
			if err := w.putObject(blob); err != nil {
				return Result{}, err
			}
			if op.Keep {
				if _, err := w.store.Storage.SetEncodedObject(blob); err != nil {
					return Result{}, fmt.Errorf("keeping %s: %w", op.Path, err)
				}
			}
			ops[i].blob = blob.Hash()
		}
	}
	committer := w.cfg.Committer
	committer.When = ch.Author.When
	if ch.Committer != nil {
		committer = *ch.Committer
		if committer.When.IsZero() {
			committer.When = ch.Author.When
		}
	}
	// Before the first sync the base is unknown, so a change that looks empty may not be:
	// commit it anyway and let the replay onto the real tip decide.
	hash, changed, err := w.commitOps(w.head, ops, ch.Author, committer, ch.Message, w.synced)
	if err != nil {
		return Result{}, fmt.Errorf("committing %q: %w", ch.Message, err)
	}
	if changed {
		w.pending = append(w.pending, &pendingCommit{
			hash: hash, ops: ops, author: ch.Author, committer: committer, message: ch.Message, made: w.clock.Now(),
		})
		if len(w.pending) == 1 {
			w.oldestPending = w.pending[0].made
		}
		w.cfg.Metrics.committed(w.cfg.URL, w.cfg.Branch, len(w.pending))
		w.updateStatus(func(s *Status) { s.LocalTip, s.Pending = short(hash), len(w.pending) })
	}
	return Result{Commit: hash.String(), Changed: changed}, nil
}

// putObject stores an object and remembers that the remote does not have it yet.
func (w *Writer) putObject(obj plumbing.EncodedObject) error {
	if err := w.store.put(obj); err != nil {
		return err
	}
	w.trackObject(obj.Hash(), obj.Type())
	return nil
}

// putTree stores a tree object, with its delta against the previous version for the next push.
// It is kept as that delta too, when its base can be read back.
func (w *Writer) putTree(obj plumbing.EncodedObject, delta *treeDelta) error {
	if delta == nil {
		return w.putObject(obj)
	}
	if err := w.store.putDelta(obj, *delta); err != nil {
		return err
	}
	w.trackObject(obj.Hash(), obj.Type())
	w.deltas[obj.Hash()] = *delta
	return nil
}

func (w *Writer) trackObject(h plumbing.Hash, t plumbing.ObjectType) {
	if _, ok := w.pendingSet[h]; ok {
		return
	}
	w.pendingSet[h] = struct{}{}
	w.pendingObjects = append(w.pendingObjects, pendingObject{hash: h, typ: t})
}
