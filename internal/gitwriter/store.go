package gitwriter

import (
	"bytes"
	"fmt"
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

// objectStore is a bare repository on disk with an overlay in memory for objects we create:
// writing one is a map insert of its compressed form, and they reach the disk as one pack when
// the overlay is full.
type objectStore struct {
	*filesystem.Storage

	mu         sync.RWMutex
	mem        map[plumbing.Hash]packedObject
	memBytes   int
	spillBytes int
}

var _ storer.EncodedObjectStorer = (*objectStore)(nil)

func openObjectStore(dir string, spillBytes int) *objectStore {
	if spillBytes <= 0 {
		spillBytes = defaultSpillBytes
	}
	fs := filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRU(16<<20),
		filesystem.Options{ExclusiveAccess: true})
	return &objectStore{Storage: fs, mem: map[plumbing.Hash]packedObject{}, spillBytes: spillBytes}
}

// put stores an object we made, spilling the overlay to disk when it is over budget.
func (s *objectStore) put(obj plumbing.EncodedObject) error {
	h := obj.Hash()
	s.mu.RLock()
	_, ok := s.mem[h]
	s.mu.RUnlock()
	if ok {
		return nil
	}
	packed, err := compressObject(obj)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.mem[h] = packed
	s.memBytes += len(packed.z)
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

func (s *objectStore) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	s.mu.RLock()
	packed, ok := s.mem[h]
	s.mu.RUnlock()
	if ok {
		if t != plumbing.AnyObject && packed.typ != t {
			return nil, plumbing.ErrObjectNotFound
		}
		return packed.inflate(h)
	}
	return s.Storage.EncodedObject(t, h)
}

func (s *objectStore) HasEncodedObject(h plumbing.Hash) error {
	s.mu.RLock()
	_, ok := s.mem[h]
	s.mu.RUnlock()
	if ok {
		return nil
	}
	return s.Storage.HasEncodedObject(h)
}

func (s *objectStore) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	s.mu.RLock()
	packed, ok := s.mem[h]
	s.mu.RUnlock()
	if ok {
		return packed.size, nil
	}
	return s.Storage.EncodedObjectSize(h)
}

// spill writes the overlay to a pack on disk and empties it.
func (s *objectStore) spill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.mem) == 0 {
		return nil
	}
	objects := make([]packedObject, 0, len(s.mem))
	for _, o := range s.mem {
		objects = append(objects, o)
	}
	w, err := s.Storage.PackfileWriter()
	if err != nil {
		return fmt.Errorf("opening a pack to spill %d objects: %w", len(objects), err)
	}
	if err := writePack(w, objects); err != nil {
		_ = w.Close()
		return fmt.Errorf("spilling %d objects to disk: %w", len(objects), err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("spilling %d objects to disk: %w", len(objects), err)
	}
	s.mem = map[plumbing.Hash]packedObject{}
	s.memBytes = 0
	return nil
}

// pack encodes the given objects as a packfile, as a push sends them.
func (s *objectStore) pack(hashes []plumbing.Hash) ([]byte, error) {
	objects := make([]packedObject, 0, len(hashes))
	size := 32
	for _, h := range hashes {
		s.mu.RLock()
		packed, ok := s.mem[h]
		s.mu.RUnlock()
		if !ok {
			obj, err := s.Storage.EncodedObject(plumbing.AnyObject, h)
			if err != nil {
				return nil, fmt.Errorf("packing object %s: %w", h, err)
			}
			if packed, err = compressObject(obj); err != nil {
				return nil, err
			}
		}
		objects = append(objects, packed)
		size += len(packed.z) + 10
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	if err := writePack(buf, objects); err != nil {
		return nil, fmt.Errorf("packing %d objects: %w", len(hashes), err)
	}
	return buf.Bytes(), nil
}
