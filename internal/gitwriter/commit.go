package gitwriter

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// treeOp is a FileOp whose content is already a blob in the store: what a pending commit keeps
// so that it can be replayed on another tip without holding file contents in memory.
type treeOp struct {
	path   string
	blob   plumbing.Hash
	delete bool
}

// pendingCommit is a commit made locally and not yet on the remote.
type pendingCommit struct {
	hash      plumbing.Hash
	ops       []treeOp
	author    Signature
	committer Signature
	message   string
	made      time.Time // when it was committed locally, for the push interval
}

// Signer signs the encoded commit (without its signature) and returns the armored signature
// that goes into the commit's gpgsig header.
type Signer interface {
	Sign(message []byte) (string, error)
}

// head is the commit the next commit builds on, and its decoded tree.
type head struct {
	commit plumbing.Hash
	tree   *tree
	root   plumbing.Hash // tree hash of commit
}

// commitOps applies ops to the head's tree and writes a commit on it. With skipUnchanged, a
// change that leaves the tree as it was makes no commit.
func (w *Writer) commitOps(h *head, ops []treeOp, author, committer Signature, message string, skipUnchanged bool) (plumbing.Hash, bool, error) {
	for _, op := range ops {
		var err error
		if op.delete {
			err = h.tree.remove(op.path)
		} else {
			err = h.tree.set(op.path, op.blob)
		}
		if err != nil {
			return plumbing.ZeroHash, false, fmt.Errorf("applying %s: %w", op.path, err)
		}
	}
	root, err := h.tree.write(w.putTree)
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	if skipUnchanged && root == h.root {
		return h.commit, false, nil
	}
	c := &object.Commit{
		Author:    object.Signature{Name: author.Name, Email: author.Email, When: author.When},
		Committer: object.Signature{Name: committer.Name, Email: committer.Email, When: committer.When},
		Message:   strings.TrimRight(message, "\n") + "\n",
		TreeHash:  root,
	}
	if !h.commit.IsZero() {
		c.ParentHashes = []plumbing.Hash{h.commit}
	}
	if w.cfg.Signer != nil {
		if err := sign(c, w.cfg.Signer); err != nil {
			return plumbing.ZeroHash, false, err
		}
	}
	obj := &plumbing.MemoryObject{}
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("encoding commit: %w", err)
	}
	if err := w.putObject(obj); err != nil {
		return plumbing.ZeroHash, false, err
	}
	h.commit, h.root = obj.Hash(), root
	return h.commit, true, nil
}

func sign(c *object.Commit, s Signer) error {
	unsigned := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(unsigned); err != nil {
		return fmt.Errorf("encoding commit for signing: %w", err)
	}
	r, err := unsigned.Reader()
	if err != nil {
		return fmt.Errorf("encoding commit for signing: %w", err)
	}
	defer r.Close()
	payload, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("encoding commit for signing: %w", err)
	}
	sig, err := s.Sign(payload)
	if err != nil {
		return fmt.Errorf("signing commit: %w", err)
	}
	c.PGPSignature = sig
	return nil
}

// headAt reads the tree of commit from the store; the zero hash is an empty repository.
func (w *Writer) headAt(commit plumbing.Hash) (*head, error) {
	if commit.IsZero() {
		return &head{tree: newTree(w.store, plumbing.ZeroHash)}, nil
	}
	obj, err := w.store.EncodedObject(plumbing.CommitObject, commit)
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", commit, err)
	}
	c, err := object.DecodeCommit(w.store, obj)
	if err != nil {
		return nil, fmt.Errorf("decoding commit %s: %w", commit, err)
	}
	return &head{commit: commit, tree: newTree(w.store, c.TreeHash), root: c.TreeHash}, nil
}

// replay rebuilds every pending commit on base, the remote's new tip, in order. Commits whose
// change is already in base disappear. Blobs made for pending commits stay pending: the remote
// still lacks them.
func (w *Writer) replay(base plumbing.Hash) error {
	h, err := w.headAt(base)
	if err != nil {
		return err
	}
	oldObjects := w.pendingObjects
	w.pendingObjects, w.pendingSet, w.deltas = nil, map[plumbing.Hash]struct{}{}, map[plumbing.Hash]treeDelta{}
	for _, obj := range oldObjects {
		if obj.typ == plumbing.BlobObject {
			w.trackObject(obj.hash, obj.typ)
		}
	}
	kept := w.pending[:0]
	for _, p := range w.pending {
		hash, changed, err := w.commitOps(h, p.ops, p.author, p.committer, p.message, true)
		if err != nil {
			return fmt.Errorf("replaying a pending commit: %w", err)
		}
		if changed {
			p.hash = hash
			kept = append(kept, p)
		}
	}
	for i := len(kept); i < len(w.pending); i++ {
		w.pending[i] = nil
	}
	w.pending = kept
	if len(kept) > 0 {
		w.oldestPending = kept[0].made
	}
	w.head = h
	return nil
}
