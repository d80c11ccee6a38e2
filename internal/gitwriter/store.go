package gitwriter

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// defaultSpillBytes is how much object content the store keeps in memory before it moves it to a
// pack on disk. It bounds the memory a Writer needs however long the remote is unreachable.
const defaultSpillBytes = 32 << 20

// objectStore is a bare repository on disk with an overlay for objects we create: writing one is
// a map insert of its compressed form. Past a budget the overlay moves, still compressed, to a
// spill file of our own with an index in memory (no pack parsing, no recompression), so a long
// outage costs disk, not memory. Spill files go when nothing is left to push.
type objectStore struct {
	*filesystem.Storage

	mu         sync.RWMutex
	mem        map[plumbing.Hash]packedObject
	deltas     map[plumbing.Hash]storedDelta
	memBytes   int
	spillBytes int
	spillDir   string
	spilled    map[plumbing.Hash]spilledObject
	spillFiles []*os.File
	// onRemote are the trees the last forget dropped.
	onRemote map[plumbing.Hash]struct{}
}

// spilledObject is where a spilled object's compressed bytes are, or, when base is set, its
// delta against base (uncompressed).
type spilledObject struct {
	file   int
	offset int64
	length int32
	typ    plumbing.ObjectType
	size   int64
	base   plumbing.Hash
	depth  int
}

var _ storer.EncodedObjectStorer = (*objectStore)(nil)

func openObjectStore(dir string, spillBytes int) *objectStore {
	if spillBytes <= 0 {
		spillBytes = defaultSpillBytes
	}
	fs := filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRU(16<<20),
		filesystem.Options{ExclusiveAccess: true})
	return &objectStore{
		Storage: fs, mem: map[plumbing.Hash]packedObject{}, deltas: map[plumbing.Hash]storedDelta{}, spillBytes: spillBytes,
		spillDir: filepath.Join(dir, "spill"), spilled: map[plumbing.Hash]spilledObject{},
	}
}

// put stores an object we made, spilling the overlay to disk when it is over budget.
func (s *objectStore) put(obj plumbing.EncodedObject) error {
	h := obj.Hash()
	s.mu.RLock()
	held := s.holdsLocked(h)
	s.mu.RUnlock()
	if held {
		return nil
	}
	packed, err := compressObject(obj)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.mem[h] = packed
	return s.grewAndUnlock(len(packed.z))
}

// grewAndUnlock counts n more bytes in the overlay, releases the write lock, and spills the
// overlay when that put it over budget.
func (s *objectStore) grewAndUnlock(n int) error {
	s.memBytes += n
	full := s.memBytes >= s.spillBytes
	s.mu.Unlock()
	if full {
		return s.spill()
	}
	return nil
}

// SetEncodedObject lets go-git write through the overlay too.
func (s *objectStore) SetEncodedObject(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	return obj.Hash(), s.put(obj)
}

// packed returns an object of ours in its compressed form, from memory or a spill file.
func (s *objectStore) packed(h plumbing.Hash) (packedObject, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if p, ok := s.mem[h]; ok {
		return p, true, nil
	}
	sp, ok := s.spilled[h]
	if !ok || !sp.base.IsZero() {
		return packedObject{}, false, nil
	}
	z := make([]byte, sp.length)
	if _, err := s.spillFiles[sp.file].ReadAt(z, sp.offset); err != nil {
		return packedObject{}, false, fmt.Errorf("reading spilled object %s: %w", h, err)
	}
	return packedObject{typ: sp.typ, size: sp.size, z: z}, true, nil
}

func (s *objectStore) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	p, ok, err := s.packed(h)
	if err != nil {
		return nil, err
	}
	if ok {
		if t != plumbing.AnyObject && p.typ != t {
			return nil, plumbing.ErrObjectNotFound
		}
		return p.inflate(h)
	}
	d, ok, err := s.delta(h)
	if err != nil {
		return nil, err
	}
	if ok {
		if t != plumbing.AnyObject && d.typ != t {
			return nil, plumbing.ErrObjectNotFound
		}
		return s.resolve(h, d)
	}
	return s.Storage.EncodedObject(t, h)
}

func (s *objectStore) HasEncodedObject(h plumbing.Hash) error {
	s.mu.RLock()
	held := s.holdsLocked(h)
	s.mu.RUnlock()
	if held {
		return nil
	}
	return s.Storage.HasEncodedObject(h)
}

func (s *objectStore) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	s.mu.RLock()
	p, inMem := s.mem[h]
	d, inDelta := s.deltas[h]
	sp, inSpill := s.spilled[h]
	s.mu.RUnlock()
	switch {
	case inMem:
		return p.size, nil
	case inDelta:
		return d.size, nil
	case inSpill:
		return sp.size, nil
	}
	return s.Storage.EncodedObjectSize(h)
}

// spill appends the overlay's compressed objects to a new spill file and empties the overlay.
func (s *objectStore) spill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.mem) == 0 && len(s.deltas) == 0 {
		return nil
	}
	if err := os.MkdirAll(s.spillDir, 0o700); err != nil {
		return fmt.Errorf("spilling objects to disk: %w", err)
	}
	f, err := os.CreateTemp(s.spillDir, "objects-")
	if err != nil {
		return fmt.Errorf("spilling objects to disk: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	index := make(map[plumbing.Hash]spilledObject, len(s.mem)+len(s.deltas))
	var offset int64
	for h, p := range s.mem {
		if _, err := w.Write(p.z); err != nil {
			_ = f.Close()
			return fmt.Errorf("spilling objects to %s: %w", f.Name(), err)
		}
		index[h] = spilledObject{file: len(s.spillFiles), offset: offset, length: int32(len(p.z)), typ: p.typ, size: p.size}
		offset += int64(len(p.z))
	}
	for h, d := range s.deltas {
		if _, err := w.Write(d.data); err != nil {
			_ = f.Close()
			return fmt.Errorf("spilling objects to %s: %w", f.Name(), err)
		}
		index[h] = spilledObject{file: len(s.spillFiles), offset: offset, length: int32(len(d.data)), typ: d.typ, size: d.size, base: d.base, depth: d.depth}
		offset += int64(len(d.data))
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return fmt.Errorf("spilling objects to %s: %w", f.Name(), err)
	}
	s.spillFiles = append(s.spillFiles, f)
	for h, sp := range index {
		s.spilled[h] = sp
	}
	s.mem = map[plumbing.Hash]packedObject{}
	s.deltas = map[plumbing.Hash]storedDelta{}
	s.memBytes = 0
	return nil
}

// dropPushed forgets the objects we made, in memory and spilled. The Writer calls it when nothing
// is left to push: they are then on the remote, and the decoded tree keeps what later commits
// build on, so memory stays flat however many commits a Writer makes.
func (s *objectStore) dropPushed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mem = map[plumbing.Hash]packedObject{}
	s.deltas = map[plumbing.Hash]storedDelta{}
	s.memBytes = 0
	for _, f := range s.spillFiles {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}
	s.spillFiles = nil
	s.spilled = map[plumbing.Hash]spilledObject{}
	s.onRemote = nil
}

// forget drops the given trees of ours, which are on the remote, from memory and from the spill
// files' index (the files themselves go with dropPushed). Until the next forget they may still be
// the bases of deltas, sent by name (the remote has them): the next version of a folder's tree
// is a delta against the version just pushed.
func (s *objectStore) forget(hashes []plumbing.Hash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onRemote = make(map[plumbing.Hash]struct{}, len(hashes))
	for _, h := range hashes {
		s.onRemote[h] = struct{}{}
		if p, ok := s.mem[h]; ok {
			s.memBytes -= len(p.z)
			delete(s.mem, h)
		}
		if d, ok := s.deltas[h]; ok {
			s.memBytes -= len(d.data)
			delete(s.deltas, h)
		}
		delete(s.spilled, h)
	}
}

// pack encodes the given objects as a packfile, as a push sends them. A tree with a delta goes
// as the delta: against its base's place in this pack when the base is in it (OFS_DELTA), else
// against the base by name (REF_DELTA, a thin pack): the base is then on the remote, which
// receive-pack completes thin packs from.
func (s *objectStore) pack(hashes []plumbing.Hash, deltas map[plumbing.Hash]treeDelta) ([]byte, error) {
	entries := make([]packEntry, 0, len(hashes))
	index := make(map[plumbing.Hash]int, len(hashes))
	size := 32
	for _, h := range hashes {
		d, ok := deltas[h]
		if !ok {
			sd, kept, err := s.delta(h)
			if err != nil {
				return nil, err
			}
			d, ok = treeDelta{base: sd.base, data: sd.data}, kept
		}
		if ok {
			e, err := deltaEntry(d, index)
			if err != nil {
				return nil, err
			}
			index[h] = len(entries)
			entries = append(entries, e)
			size += len(e.z) + 30
			continue
		}
		p, ok, err := s.packed(h)
		if err != nil {
			return nil, err
		}
		if !ok {
			obj, err := s.Storage.EncodedObject(plumbing.AnyObject, h)
			if err != nil {
				return nil, fmt.Errorf("packing object %s: %w", h, err)
			}
			if p, err = compressObject(obj); err != nil {
				return nil, err
			}
		}
		index[h] = len(entries)
		entries = append(entries, packEntry{packedObject: p, base: -1})
		size += len(p.z) + 10
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	if err := writePack(buf, entries); err != nil {
		return nil, fmt.Errorf("packing %d objects: %w", len(hashes), err)
	}
	return buf.Bytes(), nil
}

func deltaEntry(d treeDelta, index map[plumbing.Hash]int) (packEntry, error) {
	zw := compressors.Get().(*zlib.Writer)
	defer compressors.Put(zw)
	var z bytes.Buffer
	zw.Reset(&z)
	if _, err := zw.Write(d.data); err != nil {
		return packEntry{}, fmt.Errorf("compressing a delta: %w", err)
	}
	if err := zw.Close(); err != nil {
		return packEntry{}, fmt.Errorf("compressing a delta: %w", err)
	}
	e := packEntry{packedObject: packedObject{size: int64(len(d.data)), z: z.Bytes()}, base: -1, baseHash: d.base}
	if i, ok := index[d.base]; ok {
		e.typ, e.base = plumbing.OFSDeltaObject, i
	} else {
		e.typ = plumbing.REFDeltaObject
	}
	return e, nil
}
