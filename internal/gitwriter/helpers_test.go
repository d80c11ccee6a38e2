package gitwriter

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	. "github.com/onsi/gomega"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// sshRemote is a bare repository behind the real SSH server, and a client key it accepts.
type sshRemote struct{ *gitserver.SSHRepo }

func newSSHRemote(t *testing.T) *sshRemote {
	t.Helper()
	return &sshRemote{gitserver.NewSSHRepo(t, "audit")}
}

func (r *sshRemote) credentials() Credentials {
	return Credentials{SSHPrivateKey: r.Key.PrivateKeyPEM, KnownHosts: []byte(r.Server.KnownHosts())}
}

// config is a Writer configuration for branch with fast retries, logging to the test.
func (r *sshRemote) config(t *testing.T, branch string) Config {
	return Config{
		URL:         r.URL,
		Branch:      branch,
		Credentials: r.credentials(),
		WorkDir:     filepath.Join(t.TempDir(), "work"),
		Push:        PushPolicy{Interval: 0, MaxCommits: 1},
		RetryMin:    20 * time.Millisecond,
		RetryMax:    200 * time.Millisecond,
		Log:         testr.NewWithOptions(t, testr.Options{Verbosity: 1}),
	}
}

// run runs a Writer until the test ends, or until the returned function stops it and waits
// until Run returned.
func run(t *testing.T, cfg Config) (*Writer, func()) {
	t.Helper()
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("writer stopped with %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return w, stop
}

// start runs a Writer until the test ends.
func start(t *testing.T, cfg Config) *Writer {
	t.Helper()
	w, _ := run(t, cfg)
	return w
}

// runSynced is run, then waits until the Writer has read the remote branch.
func runSynced(t *testing.T, cfg Config) (*Writer, func()) {
	t.Helper()
	w, stop := run(t, cfg)
	NewWithT(t).Eventually(func() string { return w.Status().Reason }).WithTimeout(30 * time.Second).
		Should(Equal("Connected"))
	return w, stop
}

// startSynced is start, then waits until the Writer has read the remote branch.
func startSynced(t *testing.T, cfg Config) *Writer {
	t.Helper()
	w, _ := runSynced(t, cfg)
	return w
}

// statusLog records every status a Writer reports through Config.OnStatus.
type statusLog struct {
	mu  sync.Mutex
	all []Status
}

// recordStatus makes cfg report its Writer's statuses to the returned log.
func recordStatus(cfg *Config) *statusLog {
	l := &statusLog{}
	cfg.OnStatus = func(s Status) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.all = append(l.all, s)
	}
	return l
}

func (l *statusLog) statuses() []Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Status(nil), l.all...)
}

func (l *statusLog) reasons() []string {
	var reasons []string
	for _, s := range l.statuses() {
		reasons = append(reasons, s.Reason)
	}
	return reasons
}

var (
	alice = Signature{Name: "alice", Email: "alice@cluster.kubernetes.invalid"}
	bob   = Signature{Name: "bob", Email: "bob@cluster.kubernetes.invalid"}
)

// configMapChange is the change a ConfigMap update makes, with the trailers of a real one.
func configMapChange(author Signature, i int, value string) Change {
	author.When = time.Date(2026, 11, 21, 12, 0, i, 0, time.UTC)
	return Change{
		Ops:    []FileOp{{Path: fmt.Sprintf("live/default/configmaps/cm-%d.yaml", i), Data: []byte("data:\n  key: " + value + "\n")}},
		Author: author,
		Message: fmt.Sprintf("[UPDATE] configmaps default/cm-%d\n\nKubernetes-User: %s\nKubernetes-Operation: UPDATE\n",
			i, author.Name),
	}
}

// git runs the git CLI on the bare repository.
func gitCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return gitserver.Git(t, dir, args...)
}

// subjects lists the subjects of ref's history, oldest first.
func subjects(t *testing.T, dir, ref string) []string {
	t.Helper()
	log := gitserver.Log(t, dir, ref)
	out := make([]string, len(log))
	for i, c := range log {
		out[len(log)-1-i] = c.Subject
	}
	return out
}

// hasBranch reports whether the bare repository has the branch.
func hasBranch(t *testing.T, dir, branch string) bool {
	t.Helper()
	_, ok := gitserver.Refs(t, dir)["refs/heads/"+branch]
	return ok
}

// cliClone clones the bare repository at dir with the git CLI, as a person working beside us.
func cliClone(t *testing.T, dir, branch string) (string, []string) {
	t.Helper()
	home := t.TempDir()
	env := append(gitserver.Env(home), "GIT_AUTHOR_NAME=carol", "GIT_AUTHOR_EMAIL=carol@example.com")
	clone := filepath.Join(t.TempDir(), "clone")
	if _, err := gitserver.Run(t.Context(), "", env, "clone", "--quiet", dir, clone); err != nil {
		t.Fatal(err)
	}
	// An empty repository clones onto an unborn branch: name it.
	checkout := []string{"checkout", "-q", branch}
	if !hasBranch(t, dir, branch) {
		checkout = []string{"symbolic-ref", "HEAD", "refs/heads/" + branch}
	}
	if _, err := gitserver.Run(t.Context(), clone, env, checkout...); err != nil {
		t.Fatal(err)
	}
	return clone, env
}

// useOverSSH points a CLI clone's origin at the SSH server, with the client key and known_hosts.
func (r *sshRemote) useOverSSH(t *testing.T, clone string, env []string) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir+"/id", string(r.Key.PrivateKeyPEM))
	if err := os.Chmod(dir+"/id", 0o600); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir+"/known_hosts", r.Server.KnownHosts()+"\n")
	sshCommand := fmt.Sprintf("ssh -F /dev/null -i %s/id -o IdentitiesOnly=yes -o UserKnownHostsFile=%s/known_hosts -o StrictHostKeyChecking=yes", dir, dir)
	for _, args := range [][]string{{"remote", "set-url", "origin", r.URL}, {"config", "core.sshCommand", sshCommand}} {
		if _, err := gitserver.Run(t.Context(), clone, env, args...); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
