package secrets

import (
	"strings"
	"testing"
	"time"
)

// FuzzSopsAndOursAgree checks, for any YAML, that every file the sops library writes (with any of
// its rules) opens with ours to what it opens to with sops, and that every file we write opens
// with sops to what it opens to with ours, also when we re-encrypt a file sops wrote.
// `make fuzz` runs it; `go test` runs the seeds.
func FuzzSopsAndOursAgree(f *testing.F) {
	for i, p := range plains {
		f.Add([]byte(p), uint8(i))
	}
	for i, p := range []string{
		"a: 1\n# a comment\nb: [x, y] # inline\n",
		"data:\n  list:\n    # inside a list\n    - one\n    - two # after\n",
		"data: {a: 1.0, b: -0, c: .inf, d: .nan, e: 0x1F, f: 0o17, g: 1_000}\n",
		"data: {a: !!binary aGVsbG8=, b: !!str 12, c: '', d: ~}\n",
		"",
		"---\n",
		"a: b\n---\n---\nc: d\n",
		"data:\n  x: &a [1]\n  y: *a\n",
	} {
		f.Add([]byte(p), uint8(i))
	}
	k := newKeys(f)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, plain []byte, r uint8) {
		rule := sopsRules[int(r)%len(sopsRules)]
		theirs, err := sopsEncrypt(plain, k.Recipients, rule, now)
		if err == nil {
			want, serr := sopsDecrypt(theirs, k.Identities)
			got, oerr := Decrypt(theirs, k)
			switch {
			case serr != nil && oerr == nil:
				t.Fatalf("sops cannot open its own file (%v) and we can:\n%s", serr, theirs)
			case serr == nil && oerr != nil && !unsupported(oerr):
				t.Fatalf("we cannot open a file sops wrote with %s: %v\n%s", rule.name, oerr, theirs)
			case serr == nil && oerr == nil && string(got) != string(want):
				t.Fatalf("a file sops wrote with %s opens differently:\nsops:\n%s\nours:\n%s", rule.name, want, got)
			}
		}
		ours, err := Encrypt(plain, k, nil, now)
		if err != nil {
			return
		}
		got, err := Decrypt(ours, k)
		if err != nil {
			t.Fatalf("we cannot open our own file: %v\n%s", err, ours)
		}
		want, err := sopsDecrypt(ours, k.Identities)
		if err != nil {
			t.Fatalf("sops cannot open our file: %v\n%s", err, ours)
		}
		if string(got) != string(want) {
			t.Fatalf("our file opens differently:\nsops:\n%s\nours:\n%s", want, got)
		}
		if theirs == nil {
			return
		}
		again, err := Encrypt(plain, k, theirs, now.Add(time.Hour))
		if err != nil {
			t.Fatalf("re-encrypting a file sops wrote: %v", err)
		}
		if reopened, err := sopsDecrypt(again, k.Identities); err != nil || string(reopened) != string(got) {
			t.Fatalf("a file sops wrote, re-encrypted by us, opens with sops to %q (%v), not %q", reopened, err, got)
		}
	})
}

// unsupported are the files sops can write that we refuse on purpose.
func unsupported(err error) bool {
	for _, s := range []string{"appears twice", "aliases", "not supported"} {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}
