package gitwriter

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// tree is the decoded tree of the tip commit. Subtrees are decoded on first use; a change marks
// the nodes along its paths dirty, and write re-encodes only those.
type tree struct {
	store storer.EncodedObjectStorer
	root  *treeNode
}

type treeNode struct {
	entries map[string]*treeEntry
	// sorted is entries in Git's order; nil after a name was added or removed. Updating a file
	// that exists, the common change, keeps it.
	sorted []*treeEntry
	hash   plumbing.Hash // of the encoded node; stale while dirty
	dirty  bool
	// raw is the node's encoding as of hash, kept as the base of the next version's delta.
	raw []byte
	// spare is the encoding before raw, whose memory the next version is encoded into: in a
	// folder of 10,000 files every commit encodes 400 KB, and allocating it anew was most of a
	// burst's garbage.
	spare []byte
}

type treeEntry struct {
	name string
	mode filemode.FileMode
	hash plumbing.Hash
	sub  *treeNode // decoded subtree, nil until needed (and for blobs)
}

func newTree(store storer.EncodedObjectStorer, root plumbing.Hash) *tree {
	node := &treeNode{entries: map[string]*treeEntry{}, dirty: true}
	if !root.IsZero() {
		node = &treeNode{hash: root}
	}
	return &tree{store: store, root: node}
}

// load decodes a node's entries from the store the first time they are needed.
func (t *tree) load(n *treeNode) error {
	if n.entries != nil {
		return nil
	}
	obj, err := t.store.EncodedObject(plumbing.TreeObject, n.hash)
	if err != nil {
		return fmt.Errorf("reading tree %s: %w", n.hash, err)
	}
	r, err := obj.Reader()
	if err != nil {
		return fmt.Errorf("reading tree %s: %w", n.hash, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("reading tree %s: %w", n.hash, err)
	}
	n.raw = data
	n.entries = map[string]*treeEntry{}
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		nul := bytes.IndexByte(data, 0)
		if sp < 0 || nul < sp || len(data) < nul+21 {
			return fmt.Errorf("tree %s is malformed", n.hash)
		}
		mode, err := strconv.ParseUint(string(data[:sp]), 8, 32)
		if err != nil {
			return fmt.Errorf("tree %s has a bad mode: %w", n.hash, err)
		}
		var h plumbing.Hash
		copy(h[:], data[nul+1:nul+21])
		name := string(data[sp+1 : nul])
		n.entries[name] = &treeEntry{name: name, mode: filemode.FileMode(mode), hash: h}
		data = data[nul+21:]
	}
	return nil
}

// set points path at a blob, replacing a file or folder in the way: the caller's state wins.
func (t *tree) set(path string, blob plumbing.Hash) error {
	segs := strings.Split(path, "/")
	n := t.root
	for i, seg := range segs {
		if err := t.load(n); err != nil {
			return err
		}
		n.dirty = true
		e := n.entries[seg]
		if i == len(segs)-1 {
			if e != nil && e.mode == filemode.Regular {
				e.hash = blob
				return nil
			}
			n.entries[seg] = &treeEntry{name: seg, mode: filemode.Regular, hash: blob}
			n.sorted = nil
			return nil
		}
		if e == nil || e.mode != filemode.Dir {
			e = &treeEntry{name: seg, mode: filemode.Dir, sub: &treeNode{entries: map[string]*treeEntry{}, dirty: true}}
			n.entries[seg] = e
			n.sorted = nil
		}
		if e.sub == nil {
			e.sub = &treeNode{hash: e.hash}
		}
		n = e.sub
	}
	return nil
}

// remove deletes path and then every folder it leaves empty. Removing a missing path is a no-op.
func (t *tree) remove(path string) error {
	segs := strings.Split(path, "/")
	nodes := make([]*treeNode, 0, len(segs))
	n := t.root
	for i, seg := range segs {
		if err := t.load(n); err != nil {
			return err
		}
		nodes = append(nodes, n)
		e := n.entries[seg]
		if e == nil {
			return nil
		}
		if i == len(segs)-1 {
			break
		}
		if e.mode != filemode.Dir {
			return nil
		}
		if e.sub == nil {
			e.sub = &treeNode{hash: e.hash}
		}
		n = e.sub
	}
	for i := len(nodes) - 1; i >= 0; i-- {
		nodes[i].dirty = true
		nodes[i].sorted = nil
		delete(nodes[i].entries, segs[i])
		if i > 0 && len(nodes[i].entries) > 0 {
			for j := i - 1; j >= 0; j-- {
				nodes[j].dirty = true
			}
			break
		}
	}
	return nil
}

// lookup returns the blob hash at path, or the zero hash when there is none.
func (t *tree) lookup(path string) (plumbing.Hash, error) {
	n := t.root
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if err := t.load(n); err != nil {
			return plumbing.ZeroHash, err
		}
		e := n.entries[seg]
		if e == nil {
			return plumbing.ZeroHash, nil
		}
		if i == len(segs)-1 {
			if e.mode == filemode.Dir {
				return plumbing.ZeroHash, nil
			}
			return e.hash, nil
		}
		if e.mode != filemode.Dir {
			return plumbing.ZeroHash, nil
		}
		if e.sub == nil {
			e.sub = &treeNode{hash: e.hash}
		}
		n = e.sub
	}
	return plumbing.ZeroHash, nil
}

// write encodes every dirty node bottom-up, stores the new tree objects, and returns the root.
// A node that had a previous version is also given to put as a delta against it, when that is
// much smaller.
func (t *tree) write(put func(plumbing.EncodedObject, *treeDelta) error) (plumbing.Hash, error) {
	return t.writeNode(t.root, put)
}

func (t *tree) writeNode(n *treeNode, put func(plumbing.EncodedObject, *treeDelta) error) (plumbing.Hash, error) {
	if !n.dirty {
		return n.hash, nil
	}
	if n.sorted == nil {
		n.sorted = make([]*treeEntry, 0, len(n.entries))
		for _, e := range n.entries {
			n.sorted = append(n.sorted, e)
		}
		// Git orders tree entries by name, comparing a folder as if its name ended in "/".
		sort.Slice(n.sorted, func(i, j int) bool { return gitLess(n.sorted[i], n.sorted[j]) })
	}
	size := 0
	for _, e := range n.sorted {
		if e.sub != nil {
			h, err := t.writeNode(e.sub, put)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			e.hash = h
		}
		size += len(e.name) + 28
	}
	buf := n.spare[:0]
	if cap(buf) < size {
		buf = make([]byte, 0, size+size/8)
	}
	for _, e := range n.sorted {
		buf = strconv.AppendUint(buf, uint64(e.mode), 8)
		buf = append(buf, ' ')
		buf = append(buf, e.name...)
		buf = append(buf, 0)
		buf = append(buf, e.hash[:]...)
	}
	obj := newOwnedObject(plumbing.TreeObject, buf)
	var delta *treeDelta
	if !n.hash.IsZero() && n.raw != nil && obj.Hash() != n.hash {
		if d, ok := diffTree(n.raw, buf); ok {
			delta = &treeDelta{base: n.hash, data: d}
		}
	}
	if err := put(obj, delta); err != nil {
		return plumbing.ZeroHash, err
	}
	// Nothing refers to the old encoding now: the store compressed what it keeps, and the delta
	// is bytes of its own.
	n.spare = n.raw
	n.hash, n.dirty, n.raw = obj.Hash(), false, buf
	return n.hash, nil
}

// gitLess is Git's tree order: by name, with a folder compared as if its name ended in "/".
func gitLess(a, b *treeEntry) bool {
	an, bn := a.name, b.name
	if a.mode == filemode.Dir {
		an += "/"
	}
	if b.mode == filemode.Dir {
		bn += "/"
	}
	return an < bn
}

// ownedObject is an object over bytes the caller hands over: no copy, the hash computed once.
// It is only read (hashed, compressed into the store, diffed), never kept.
type ownedObject struct {
	typ  plumbing.ObjectType
	data []byte
	hash plumbing.Hash
}

func newOwnedObject(t plumbing.ObjectType, data []byte) *ownedObject {
	return &ownedObject{typ: t, data: data, hash: plumbing.ComputeHash(t, data)}
}

func (o *ownedObject) Hash() plumbing.Hash           { return o.hash }
func (o *ownedObject) Type() plumbing.ObjectType     { return o.typ }
func (o *ownedObject) SetType(t plumbing.ObjectType) { o.typ = t }
func (o *ownedObject) Size() int64                   { return int64(len(o.data)) }
func (o *ownedObject) SetSize(int64)                 {}
func (o *ownedObject) Reader() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(o.data)), nil
}
func (o *ownedObject) Writer() (io.WriteCloser, error) {
	return nil, errors.New("an owned object is read-only")
}

// newObject wraps content in an object whose hash is computed once.
func newObject(t plumbing.ObjectType, content []byte) plumbing.EncodedObject {
	obj := &plumbing.MemoryObject{}
	obj.SetType(t)
	_, _ = obj.Write(content) // MemoryObject.Write cannot fail
	return obj
}

// files calls visit with the path and blob of every file below folder ("" for the whole tree), loading
// subtrees as it goes. A folder that does not exist has no files.
func (t *tree) files(folder string, visit func(path string, blob plumbing.Hash)) error {
	n := t.root
	if folder != "" {
		for _, seg := range strings.Split(folder, "/") {
			if err := t.load(n); err != nil {
				return err
			}
			e := n.entries[seg]
			if e == nil || e.mode != filemode.Dir {
				return nil
			}
			if e.sub == nil {
				e.sub = &treeNode{hash: e.hash}
			}
			n = e.sub
		}
	}
	return t.walk(n, folder, visit)
}

func (t *tree) walk(n *treeNode, prefix string, visit func(path string, blob plumbing.Hash)) error {
	if err := t.load(n); err != nil {
		return err
	}
	for name, e := range n.entries {
		p := name
		if prefix != "" {
			p = prefix + "/" + name
		}
		if e.mode != filemode.Dir {
			visit(p, e.hash)
			continue
		}
		if e.sub == nil {
			e.sub = &treeNode{hash: e.hash}
		}
		if err := t.walk(e.sub, p, visit); err != nil {
			return err
		}
	}
	return nil
}
