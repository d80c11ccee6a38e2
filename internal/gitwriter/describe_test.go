package gitwriter

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/transport"
	. "github.com/onsi/gomega"
)

func TestDescribeKeepsServerPagesOutOfConditionMessages(t *testing.T) {
	apache := "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>401 Unauthorized</title>\n</head><body>\n<h1>Unauthorized</h1>\n<p>This server could not verify...</p>\n</body></html>\n"
	cases := []struct {
		name, url string
		err       error
		want      string
	}{
		{"apache's 401 page", "https://git.example.com/r.git", fmt.Errorf("%w: %s", transport.ErrAuthenticationRequired, apache),
			"authentication required (HTTP 401): 401 Unauthorized"},
		{"a page with only a heading", "https://git.example.com/r.git", fmt.Errorf("%w: <html><body><h1>Forbidden</h1><p>no</p></body></html>", transport.ErrAuthorizationFailed),
			"authorization failed (HTTP 403): Forbidden"},
		{"a page with neither", "https://git.example.com/r.git", errors.New("unexpected answer: <html><body><p>oops</p></body></html>"),
			"unexpected answer: the server answered with an HTML page"},
		{"a plain body on several lines", "https://git.example.com/r.git", fmt.Errorf("%w: Repository not found.\nCheck the URL.\n", transport.ErrRepositoryNotFound),
			"repository not found (HTTP 404): Repository not found. Check the URL."},
		{"the same sentinel over SSH names no HTTP status", "ssh://git@git.example.com/r.git", fmt.Errorf("%w: Permission denied (publickey)", transport.ErrAuthenticationRequired),
			"authentication required: Permission denied (publickey)"},
		{"an x509 error as it is", "https://git.example.com/r.git", errors.New(`Get "https://git.example.com/r.git/info/refs": tls: failed to verify certificate: x509: certificate signed by unknown authority`),
			`Get "https://git.example.com/r.git/info/refs": tls: failed to verify certificate: x509: certificate signed by unknown authority`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(Describe(tc.url, tc.err)).To(Equal(tc.want))
		})
	}
	t.Run("a long message is cut on a character boundary", func(t *testing.T) {
		g := NewWithT(t)
		got := Describe("ssh://h/r", errors.New(strings.Repeat("é", 400)))
		g.Expect(len(got)).To(BeNumerically("<=", maxMessage+len("…")))
		g.Expect(got).To(HaveSuffix("é…"))
	})
	NewWithT(t).Expect(Describe("ssh://h/r", nil)).To(BeEmpty())
}
