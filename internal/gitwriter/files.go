package gitwriter

import (
	"context"
	"errors"

	"github.com/go-git/go-git/v5/plumbing"
)

// ErrNotSynced says the Writer has not read the remote branch yet, so it cannot tell what the
// branch holds.
var ErrNotSynced = errors.New("the Git writer has not reached the remote yet")

type filesRequest struct {
	folder string
	reply  chan filesReply
}

type filesReply struct {
	files map[string]plumbing.Hash
	err   error
}

// BlobHash is the Git object id of a file with content data: what Files reports for it.
func BlobHash(data []byte) plumbing.Hash {
	return plumbing.ComputeHash(plumbing.BlobObject, data)
}

// Files returns every file below folder on the Writer's head, the remote's tip with the pending
// commits on top, with the object id of its content. It fails with ErrNotSynced until the
// Writer has read the remote branch once.
func (w *Writer) Files(ctx context.Context, folder string) (map[string]plumbing.Hash, error) {
	if err := validatePath(folder); err != nil {
		return nil, err
	}
	req := filesRequest{folder: folder, reply: make(chan filesReply, 1)}
	select {
	case w.filesRequests <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-req.reply:
		return r.files, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (w *Writer) handleFiles(req filesRequest) {
	if !w.synced {
		req.reply <- filesReply{err: ErrNotSynced}
		return
	}
	files := map[string]plumbing.Hash{}
	err := w.head.tree.files(req.folder, func(path string, blob plumbing.Hash) { files[path] = blob })
	req.reply <- filesReply{files: files, err: err}
}
