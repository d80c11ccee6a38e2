package gitwriter

import (
	"bytes"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

func TestDiffTreeRoundTripsThroughGoGitsPatcher(t *testing.T) {
	base := bytes.Repeat([]byte("100644 cm-0000.yaml\x00abcdefghijklmnopqrst"), 2000)
	edit := func(at int, insert string, remove int) []byte {
		out := append([]byte{}, base[:at]...)
		out = append(out, insert...)
		return append(out, base[at+remove:]...)
	}
	for name, target := range map[string][]byte{
		"one entry changed":   edit(40_000, "100644 cm-1234.yaml\x00ABCDEFGHIJKLMNOPQRST", 40),
		"one entry added":     edit(123, "100644 cm-0001.yaml\x00zzzzzzzzzzzzzzzzzzzz", 0),
		"one entry removed":   edit(80_000-40, "", 40),
		"at the very start":   edit(0, "x", 1),
		"at the very end":     append(append([]byte{}, base...), "100644 zz.yaml\x00aaaaaaaaaaaaaaaaaaaa"...),
		"identical":           append([]byte{}, base...),
		"a long insert":       edit(500, string(bytes.Repeat([]byte{'q'}, 300)), 0),
		"offsets over 64 KiB": edit(70_001, "y", 3),
	} {
		t.Run(name, func(t *testing.T) {
			delta, ok := diffTree(base, target)
			if !ok {
				t.Fatal("no delta")
			}
			got, err := packfile.PatchDelta(base, delta)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, target) {
				t.Fatalf("patched %d bytes differ from the %d-byte target", len(got), len(target))
			}
			if len(delta) > 1000 {
				t.Fatalf("delta of %d bytes for a small change", len(delta))
			}
		})
	}
	if _, ok := diffTree(base, bytes.Repeat([]byte("other"), 100)); ok {
		t.Error("a delta for content that shares nothing")
	}
	if _, ok := diffTree([]byte("small"), []byte("smaller")); ok {
		t.Error("a delta for a tiny base")
	}
}
