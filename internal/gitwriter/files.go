package gitwriter

import (
	"context"
	"errors"
	"fmt"
	"io"

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

// ErrDropped says a file's content was made by this Writer and dropped from memory once it was
// pushed: the file is one the Writer wrote, and its content is on the remote.
var ErrDropped = errors.New("the content was written by this Git writer and is no longer held")

// BlobHash is the Git object id of a file with content data: what Files reports for it.
func BlobHash(data []byte) plumbing.Hash {
	return plumbing.ComputeHash(plumbing.BlobObject, data)
}

// Files returns every file below folder ("" for the repository root) on the Writer's head, the remote's tip with the pending
// commits on top, with the object id of its content. It fails with ErrNotSynced until the
// Writer has read the remote branch once.
func (w *Writer) Files(ctx context.Context, folder string) (map[string]plumbing.Hash, error) {
	if folder != "" { // "": the whole repository
		if err := validatePath(folder); err != nil {
			return nil, err
		}
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

type readRequest struct {
	path  string
	reply chan readReply
}

type readReply struct {
	data []byte
	ok   bool
	err  error
}

// Read returns the content of the file at path on the Writer's head, and false when there is
// none. Content the Writer made and already pushed may no longer be at hand: then it says so with
// an error, and the caller treats the file as unknown.
func (w *Writer) Read(ctx context.Context, path string) ([]byte, bool, error) {
	if err := validatePath(path); err != nil {
		return nil, false, err
	}
	req := readRequest{path: path, reply: make(chan readReply, 1)}
	select {
	case w.readRequests <- req:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	select {
	case r := <-req.reply:
		return r.data, r.ok, r.err
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

func (w *Writer) handleRead(req readRequest) {
	if !w.synced {
		req.reply <- readReply{err: ErrNotSynced}
		return
	}
	blob, err := w.head.tree.lookup(req.path)
	if err != nil || blob.IsZero() {
		req.reply <- readReply{err: err}
		return
	}
	obj, err := w.store.EncodedObject(plumbing.BlobObject, blob)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		// Every blob of a fetched tip is in the store: a missing one is one we made and dropped.
		req.reply <- readReply{err: fmt.Errorf("reading %s: %w", req.path, ErrDropped)}
		return
	}
	if err != nil {
		req.reply <- readReply{err: fmt.Errorf("reading %s: %w", req.path, err)}
		return
	}
	r, err := obj.Reader()
	if err != nil {
		req.reply <- readReply{err: fmt.Errorf("reading %s: %w", req.path, err)}
		return
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		req.reply <- readReply{err: fmt.Errorf("reading %s: %w", req.path, err)}
		return
	}
	req.reply <- readReply{data: data, ok: true}
}
