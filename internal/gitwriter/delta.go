package gitwriter

import (
	"bytes"

	"github.com/go-git/go-git/v5/plumbing"
)

// treeDelta is a tree object expressed as a Git delta against the previous version of the same
// folder. A commit that changes one file of a 10,000-file folder makes a new 400 KB tree object
// that differs from the last in one entry; sent whole, those trees are most of every push.
type treeDelta struct {
	base plumbing.Hash
	data []byte
}

// minDeltaBase is the smallest tree worth a delta: below it the whole object is about as small.
const minDeltaBase = 1024

// diffTree encodes target as a delta against base: copy the common prefix, insert what differs,
// copy the common suffix. That is the optimal delta for what commits do to trees (replace, add or
// remove entries in one place), found in one pass without an index of the base. ok is false when
// a delta would not be much smaller than target.
func diffTree(base, target []byte) ([]byte, bool) {
	if len(base) < minDeltaBase {
		return nil, false
	}
	prefix := commonPrefix(base, target)
	limit := min(len(base), len(target)) - prefix
	suffix := commonSuffix(base[prefix:], target[prefix:], limit)
	middle := target[prefix : len(target)-suffix]
	if len(middle) > len(target)/2 {
		return nil, false
	}
	d := make([]byte, 0, 32+len(middle)+len(middle)/127)
	d = appendVarint(d, uint64(len(base)))
	d = appendVarint(d, uint64(len(target)))
	d = appendCopy(d, 0, prefix)
	for len(middle) > 0 {
		n := min(len(middle), 127)
		d = append(d, byte(n))
		d = append(d, middle[:n]...)
		middle = middle[n:]
	}
	d = appendCopy(d, len(base)-suffix, suffix)
	return d, true
}

func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for i+8 <= n && bytes.Equal(a[i:i+8], b[i:i+8]) {
		i += 8
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

func commonSuffix(a, b []byte, limit int) int {
	i := 0
	for i < limit && a[len(a)-1-i] == b[len(b)-1-i] {
		i++
	}
	return i
}

// appendVarint is the delta header's size encoding: 7 bits per byte, least significant first.
func appendVarint(d []byte, v uint64) []byte {
	for v >= 0x80 {
		d = append(d, byte(v)|0x80)
		v >>= 7
	}
	return append(d, byte(v))
}

// appendCopy appends copy instructions for base[offset:offset+n], in chunks a copy can name
// (sizes up to 0xffffff; offsets fit 32 bits since trees are far smaller).
func appendCopy(d []byte, offset, n int) []byte {
	for n > 0 {
		size := min(n, 0xffffff)
		op := byte(0x80)
		var args []byte
		for i := range 4 {
			if b := byte(offset >> (8 * i)); b != 0 {
				op |= 1 << i
				args = append(args, b)
			}
		}
		for i := range 3 {
			if b := byte(size >> (8 * i)); b != 0 {
				op |= 0x10 << i
				args = append(args, b)
			}
		}
		d = append(d, op)
		d = append(d, args...)
		offset += size
		n -= size
	}
	return d
}
