package gitwriter

import (
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

// maxDeltaDepth bounds how many deltas reading an object back applies: every so many versions of
// a folder's tree, one is kept whole.
const maxDeltaDepth = 32

// storedDelta is an object of ours kept as a delta against base. A commit that changes one file
// of a 10,000-file folder makes a 400 KB tree that differs from the last in one entry: kept
// whole, the versions waiting for a push were most of a Writer's memory under a burst (and,
// spilled, 40 MB/s of disk writes).
type storedDelta struct {
	base  plumbing.Hash
	data  []byte
	typ   plumbing.ObjectType
	size  int64
	depth int
}

// putDelta stores obj as d when d's base can be read back and the chain is not too long, else
// whole.
func (s *objectStore) putDelta(obj plumbing.EncodedObject, d treeDelta) error {
	h := obj.Hash()
	s.mu.Lock()
	if s.holdsLocked(h) {
		s.mu.Unlock()
		return nil
	}
	depth, ok := s.depthLocked(d.base)
	if !ok || depth >= maxDeltaDepth {
		s.mu.Unlock()
		return s.put(obj)
	}
	s.deltas[h] = storedDelta{base: d.base, data: d.data, typ: obj.Type(), size: obj.Size(), depth: depth + 1}
	return s.grewAndUnlock(len(d.data))
}

// holdsLocked says whether the overlay or the spill files hold h.
func (s *objectStore) holdsLocked(h plumbing.Hash) bool {
	_, inMem := s.mem[h]
	_, inDelta := s.deltas[h]
	_, inSpill := s.spilled[h]
	return inMem || inDelta || inSpill
}

// depthLocked is how many deltas reading h back applies, and whether it can be a delta's base:
// read back, or on the remote (a tree forget dropped, which a push sends deltas against by name
// and nothing reads again).
func (s *objectStore) depthLocked(h plumbing.Hash) (int, bool) {
	if _, ok := s.onRemote[h]; ok {
		return 0, true
	}
	if d, ok := s.deltas[h]; ok {
		return d.depth, true
	}
	if sp, ok := s.spilled[h]; ok {
		return sp.depth, true
	}
	if _, ok := s.mem[h]; ok {
		return 0, true
	}
	return 0, s.Storage.HasEncodedObject(h) == nil
}

// delta returns h as a delta, when it is kept as one.
func (s *objectStore) delta(h plumbing.Hash) (storedDelta, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if d, ok := s.deltas[h]; ok {
		return d, true, nil
	}
	sp, ok := s.spilled[h]
	if !ok || sp.base.IsZero() {
		return storedDelta{}, false, nil
	}
	data := make([]byte, sp.length)
	if _, err := s.spillFiles[sp.file].ReadAt(data, sp.offset); err != nil {
		return storedDelta{}, false, fmt.Errorf("reading spilled delta %s: %w", h, err)
	}
	return storedDelta{base: sp.base, data: data, typ: sp.typ, size: sp.size, depth: sp.depth}, true, nil
}

// resolve rebuilds h from its delta and its base.
func (s *objectStore) resolve(h plumbing.Hash, d storedDelta) (plumbing.EncodedObject, error) {
	base, err := s.EncodedObject(plumbing.AnyObject, d.base)
	if err != nil {
		return nil, fmt.Errorf("reading %s, the base of %s (a tree pushed and dropped from memory is read from the remote only): %w", d.base, h, err)
	}
	r, err := base.Reader()
	if err != nil {
		return nil, fmt.Errorf("reading %s, the base of %s: %w", d.base, h, err)
	}
	src, err := io.ReadAll(r)
	_ = r.Close()
	if err != nil {
		return nil, fmt.Errorf("reading %s, the base of %s: %w", d.base, h, err)
	}
	content, err := packfile.PatchDelta(src, d.data)
	if err != nil {
		return nil, fmt.Errorf("rebuilding %s from its delta: %w", h, err)
	}
	obj := newObject(d.typ, content)
	if obj.Hash() != h {
		return nil, fmt.Errorf("rebuilding %s from its delta gave %s", h, obj.Hash())
	}
	return obj, nil
}
