package gitwriter

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1" //nolint:gosec // Git's pack trailer is SHA-1 by definition.
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
)

// packedObject is an object as it appears in a pack: its type, size and zlib-compressed content.
// Compressing once, when the object is made, keeps every later push a matter of copying bytes.
type packedObject struct {
	typ  plumbing.ObjectType
	size int64
	z    []byte
}

func compressObject(obj plumbing.EncodedObject) (packedObject, error) {
	r, err := obj.Reader()
	if err != nil {
		return packedObject{}, fmt.Errorf("reading object %s: %w", obj.Hash(), err)
	}
	defer r.Close()
	buf := bytes.NewBuffer(make([]byte, 0, obj.Size()/2+64))
	// Trees are mostly 20-byte hashes, which do not compress: storing them saves building a
	// Huffman code per tree, the largest cost left in a commit, for a few percent of pack size.
	pool := &compressors
	if obj.Type() == plumbing.TreeObject {
		pool = &storers
	}
	zw := pool.Get().(*zlib.Writer)
	defer pool.Put(zw)
	zw.Reset(buf)
	if _, err := io.Copy(zw, r); err != nil {
		return packedObject{}, fmt.Errorf("compressing object %s: %w", obj.Hash(), err)
	}
	if err := zw.Close(); err != nil {
		return packedObject{}, fmt.Errorf("compressing object %s: %w", obj.Hash(), err)
	}
	return packedObject{typ: obj.Type(), size: obj.Size(), z: buf.Bytes()}, nil
}

// compressors reuses zlib writers: each holds about a megabyte of tables, and allocating (and
// zeroing) one per object was most of the cost of a commit.
var compressors = sync.Pool{New: func() any {
	zw, _ := zlib.NewWriterLevel(nil, zlib.BestSpeed) // the level is valid
	return zw
}}

var storers = sync.Pool{New: func() any {
	zw, _ := zlib.NewWriterLevel(nil, zlib.NoCompression) // the level is valid
	return zw
}}

// inflate returns the object's content.
func (p packedObject) inflate(h plumbing.Hash) (plumbing.EncodedObject, error) {
	zr, err := zlib.NewReader(bytes.NewReader(p.z))
	if err != nil {
		return nil, fmt.Errorf("inflating object %s: %w", h, err)
	}
	defer zr.Close()
	obj := &plumbing.MemoryObject{}
	obj.SetType(p.typ)
	obj.SetSize(p.size)
	if _, err := io.Copy(obj, zr); err != nil {
		return nil, fmt.Errorf("inflating object %s: %w", h, err)
	}
	return obj, nil
}

// packEntry is an object in a pack: whole, or a delta against an earlier entry (base >= 0,
// OFS_DELTA) or against an object the receiver has (REF_DELTA, baseHash).
type packEntry struct {
	packedObject
	base     int
	baseHash plumbing.Hash
}

// writePack writes a version 2 pack of the entries.
func writePack(w io.Writer, entries []packEntry) error {
	sum := sha1.New() //nolint:gosec // see import
	cw := &countingWriter{w: io.MultiWriter(w, sum)}
	var header [12]byte
	copy(header[:4], "PACK")
	binary.BigEndian.PutUint32(header[4:8], 2)
	binary.BigEndian.PutUint32(header[8:12], uint32(len(entries)))
	if _, err := cw.Write(header[:]); err != nil {
		return err
	}
	offsets := make([]int64, len(entries))
	var objHeader [32]byte
	for i, o := range entries {
		offsets[i] = cw.n
		// Type in bits 4-6 of the first byte, size in 4 bits there and 7 bits per next byte.
		size := uint64(o.size)
		b := byte(o.typ)<<4 | byte(size&0x0f)
		size >>= 4
		n := 0
		for size != 0 {
			objHeader[n] = b | 0x80
			n++
			b = byte(size & 0x7f)
			size >>= 7
		}
		objHeader[n] = b
		n++
		switch o.typ {
		case plumbing.OFSDeltaObject:
			n += putOffset(objHeader[n:], uint64(offsets[i]-offsets[o.base]))
		case plumbing.REFDeltaObject:
			n += copy(objHeader[n:], o.baseHash[:])
		}
		if _, err := cw.Write(objHeader[:n]); err != nil {
			return err
		}
		if _, err := cw.Write(o.z); err != nil {
			return err
		}
	}
	_, err := w.Write(sum.Sum(nil))
	return err
}

// putOffset writes an OFS_DELTA's distance back to its base the way Git reads it: big-endian
// 7-bit groups, each continuation adding one, so that every distance has one encoding.
func putOffset(dst []byte, ofs uint64) int {
	var tmp [10]byte
	pos := len(tmp) - 1
	tmp[pos] = byte(ofs & 0x7f)
	for ofs >>= 7; ofs != 0; ofs >>= 7 {
		ofs--
		pos--
		tmp[pos] = 0x80 | byte(ofs&0x7f)
	}
	return copy(dst, tmp[pos:])
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
