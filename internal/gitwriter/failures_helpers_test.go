package gitwriter

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	. "github.com/onsi/gomega"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// httpsRemote is a bare repository behind the real HTTPS server.
type httpsRemote struct {
	Server *gitserver.HTTPSServer
	Dir    string
	URL    string
}

func newHTTPSRemote(t *testing.T, creds ...gitserver.Credential) *httpsRemote {
	t.Helper()
	root := t.TempDir()
	server := gitserver.StartHTTPSServer(t, root, creds...)
	return &httpsRemote{Server: server, Dir: gitserver.NewBareRepo(t, root, "audit"), URL: server.URL("audit")}
}

// writerConfig is what sshRemote.config makes, for any URL and credentials.
func writerConfig(t *testing.T, url, branch string, creds Credentials) Config {
	return Config{
		URL:         url,
		Branch:      branch,
		Credentials: creds,
		WorkDir:     filepath.Join(t.TempDir(), "work"),
		Push:        PushPolicy{Interval: 0, MaxCommits: 1},
		RetryMin:    20 * time.Millisecond,
		RetryMax:    200 * time.Millisecond,
		Log:         testr.NewWithOptions(t, testr.Options{Verbosity: 1}),
	}
}

// eventuallyReason waits until the Writer reports reason and returns that status.
func eventuallyReason(t *testing.T, w *Writer, reason string) Status {
	t.Helper()
	var st Status
	NewWithT(t).Eventually(func() string {
		st = w.Status()
		return st.Reason
	}).WithTimeout(30*time.Second).WithPolling(10*time.Millisecond).Should(Equal(reason), "status: %+v", &st)
	return st
}

// expectNoRefsForAWhile proves the remote got nothing: no branch now, and none for a second.
func expectNoRefsForAWhile(t *testing.T, dir string) {
	t.Helper()
	g := NewWithT(t)
	g.Expect(gitserver.Refs(t, dir)).To(BeEmpty())
	g.Consistently(func() map[string]string { return gitserver.Refs(t, dir) }).
		WithTimeout(time.Second).WithPolling(100 * time.Millisecond).Should(BeEmpty())
}

// impostorKnownHosts is a known_hosts line for the same [127.0.0.1]:PORT as addr, holding a
// freshly generated ed25519 key that is not the server's.
func impostorKnownHosts(t *testing.T, addr string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return knownhosts.Line([]string{knownhosts.Normalize(addr)}, key)
}

// packsIn counts the pack files of a Writer's local repository.
// spillFilesIn counts the files the Writer spilled objects to.
func spillFilesIn(t *testing.T, workDir string) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(workDir, "repo.git", "spill"))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "objects-") {
			n++
		}
	}
	return n
}

// sneakOnce installs a pre-receive hook in the bare repository at dir that, the first time a push
// finds branch existing, moves branch to a new commit of its own before git-receive-pack takes
// the ref lock: what another client's push landing between our advertisement and our update
// does, made deterministic. It returns the subject of the commit it sneaks in.
func sneakOnce(t *testing.T, dir, branch string) string {
	t.Helper()
	marker := filepath.Join(t.TempDir(), "sneaked")
	const subject = "sneaked in during the push"
	hook := `#!/bin/sh
tip=$(git rev-parse --verify -q refs/heads/` + branch + `) || exit 0
[ -e '` + marker + `' ] && exit 0
touch '` + marker + `'
# Leave receive-pack's quarantine so that the commit and the ref update are real.
unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES
new=$(git commit-tree -p "$tip" -m '` + subject + `' "$tip^{tree}") || exit 1
git update-ref refs/heads/` + branch + ` "$new" "$tip" || exit 1
`
	path := filepath.Join(dir, "hooks", "pre-receive")
	writeFile(t, path, hook)
	if err := os.Chmod(path, 0o755); err != nil {
		t.Fatal(err)
	}
	return subject
}
