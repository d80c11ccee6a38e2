package controller

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// A long condition message (every file a Git → cluster run could not read) becomes a note the API
// server accepts: at most 1,024 bytes, whole runes, marked where it was cut.
func TestEventNoteFitsAnEvent(t *testing.T) {
	long := strings.Repeat("live-cluster/apps/é.yaml: cannot read; ", 60)
	note := eventNote(long)
	if len(note) > eventNoteLimit || !utf8.ValidString(note) || !strings.HasSuffix(note, "…") {
		t.Fatalf("note of %d bytes (valid UTF-8 %v): %q", len(note), utf8.ValidString(note), note[len(note)-20:])
	}
	if short := "applied"; eventNote(short) != short {
		t.Fatalf("a short note is changed: %q", eventNote(short))
	}
}
