package gitwriter

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/gitops-reverser/gitops-reverser/internal/oneline"
)

// maxMessage bounds a condition message made from an error: status conditions are read in
// `kubectl get` and `describe`, and a server's error page is no help there.
const maxMessage = 320

var (
	htmlStart = regexp.MustCompile(`(?is)<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]`)
	htmlTitle = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	htmlH1    = regexp.MustCompile(`(?is)<h1[^>]*>(.*?)</h1>`)
	htmlTag   = regexp.MustCompile(`(?s)<[^>]*>`)
)

// Describe is err, from a Git operation on url, as one line for a status condition: a server's
// HTML error page (go-git puts a failed HTTP request's whole body into its error) is cut down to
// its title, an HTTP remote's status is named where go-git keeps only a sentinel for it (401, 403,
// 404), and the rest is joined on one line and bounded. The full error still goes to the log.
func Describe(url string, err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	if loc := htmlStart.FindStringIndex(msg); loc != nil {
		page := msg[loc[0]:]
		summary := ""
		if m := htmlTitle.FindStringSubmatch(page); m != nil {
			summary = m[1]
		} else if m := htmlH1.FindStringSubmatch(page); m != nil {
			summary = m[1]
		}
		summary = strings.TrimSpace(htmlTag.ReplaceAllString(summary, ""))
		if summary == "" {
			summary = "the server answered with an HTML page"
		}
		msg = strings.TrimRight(strings.TrimSpace(msg[:loc[0]]), ":") + ": " + summary
	}
	if sentinel, code := httpStatusOf(url, err); code != 0 {
		msg = strings.Replace(msg, sentinel.Error(), fmt.Sprintf("%s (HTTP %d)", sentinel, code), 1)
	}
	return oneline.Cut(oneline.Squeeze(msg), maxMessage, "…")
}

// httpStatusOf is the sentinel of go-git's error for an HTTP remote's answer, and the status it
// stands for: go-git keeps only the sentinel (an SSH remote's errors are the same sentinels).
func httpStatusOf(url string, err error) (error, int) {
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, 0
	}
	for _, s := range []struct {
		err  error
		code int
	}{
		{transport.ErrAuthenticationRequired, http.StatusUnauthorized},
		{transport.ErrAuthorizationFailed, http.StatusForbidden},
		{transport.ErrRepositoryNotFound, http.StatusNotFound},
	} {
		if errors.Is(err, s.err) {
			return s.err, s.code
		}
	}
	return nil, 0
}
