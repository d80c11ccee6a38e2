package main

import (
	"fmt"
	"strings"
)

// heading starts a section of the output.
func heading(title string) {
	fmt.Println("\n==> " + title)
}

// item prints one labelled line of a section.
func item(label, text string) {
	fmt.Printf("  %-14s %s\n", label, text)
}

// printIndented prints text with every line indented, and nothing for empty text.
func printIndented(text, indent string) {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return
	}
	for line := range strings.SplitSeq(text, "\n") {
		fmt.Println(strings.TrimRight(indent+line, " "))
	}
}

// shellQuote renders args as a shell would need them typed, single-quoting those with
// characters the shell treats specially.
func shellQuote(args ...string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@+%") == "" {
			quoted[i] = a
			continue
		}
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(quoted, " ")
}
