package oneline

import (
	"testing"

	. "github.com/onsi/gomega"
)

func TestFreeTextBecomesOneBoundedLine(t *testing.T) {
	g := NewWithT(t)
	g.Expect(Spaces("a\nb\r\tc\x7fd  e")).To(Equal("a b  c d  e"))
	g.Expect(Squeeze("  a\n\n b\t c  ")).To(Equal("a b c"))
	g.Expect(Cut("short", 10, "…")).To(Equal("short"))
	g.Expect(Cut("abcdef", 4, "…")).To(Equal("abcd…"))
	// "é" is two bytes: a cut between them moves before the character.
	g.Expect(Cut("abcé", 4, "")).To(Equal("abc"))
	g.Expect(Cut("ééé", 5, "…")).To(Equal("éé…"))
}
