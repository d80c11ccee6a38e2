package e2e

import (
	"strings"
	"testing"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

const branch = "test-gitops-reverser"

// commit is one commit on the remote, as the git CLI reads it.
type commit struct {
	Subject, AuthorName, AuthorEmail, CommitterName string
	Trailers                                        map[string]string
}

// commits lists the branch's commits on the remote, oldest first; none while it does not exist.
func commits(t *testing.T, repo *gitserver.SSHRepo) []commit {
	t.Helper()
	if _, ok := gitserver.Refs(t, repo.Dir)["refs/heads/"+branch]; !ok {
		return nil
	}
	const sep = "\x1e"
	out := gitserver.Git(t, repo.Dir, "log", "--reverse", "--format=%s%x1f%an%x1f%ae%x1f%cn%x1f%(trailers:unfold,separator=%x1d)"+sep, branch)
	var list []commit
	for _, rec := range strings.Split(out, sep) {
		rec = strings.Trim(rec, "\n")
		if rec == "" {
			continue
		}
		f := strings.Split(rec, "\x1f")
		c := commit{Subject: f[0], AuthorName: f[1], AuthorEmail: f[2], CommitterName: f[3], Trailers: map[string]string{}}
		for _, tr := range strings.Split(f[4], "\x1d") {
			if k, v, ok := strings.Cut(tr, ": "); ok {
				c.Trailers[k] = v
			}
		}
		list = append(list, c)
	}
	return list
}

// withSubject returns the commits with the subject.
func withSubject(t *testing.T, repo *gitserver.SSHRepo, subject string) []commit {
	t.Helper()
	var out []commit
	for _, c := range commits(t, repo) {
		if c.Subject == subject {
			out = append(out, c)
		}
	}
	return out
}

// files lists the files below folder on the branch with their contents.
func files(t *testing.T, repo *gitserver.SSHRepo, folder string) map[string]string {
	t.Helper()
	out := map[string]string{}
	tip, ok := gitserver.Refs(t, repo.Dir)["refs/heads/"+branch]
	if !ok {
		return out
	}
	// One commit throughout: the branch moves while we read.
	for _, p := range strings.Split(gitserver.Git(t, repo.Dir, "ls-tree", "-r", "--name-only", tip, "--", folder), "\n") {
		if p != "" {
			out[p] = gitserver.Git(t, repo.Dir, "show", tip+":"+p) + "\n"
		}
	}
	return out
}
