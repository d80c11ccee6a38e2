// Package oneline owns how free text (user and object names, rendered templates, servers' error
// messages) becomes one line of a commit message or a status condition: control characters
// become spaces, and a bounded line is cut on a rune boundary, never inside a character.
package oneline

import (
	"strings"
	"unicode/utf8"
)

// Spaces returns s with every control character, line breaks included, as a space; nothing else
// changes, so a value keeps its length and its own spacing.
func Spaces(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// Squeeze returns s as one line with every run of white space and control characters as a single
// space, and none at either end.
func Squeeze(s string) string {
	return strings.Join(strings.Fields(Spaces(s)), " ")
}

// Cut returns s when it has at most max bytes, else its longest prefix of at most max bytes that
// ends on a rune boundary, followed by more (such as "…"; it may make the result longer than
// max).
func Cut(s string, max int, more string) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + more
}
