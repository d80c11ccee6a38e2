package gitserver_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// runGit runs the git CLI as a client with a hermetic environment plus extra.
func runGit(t *testing.T, dir string, extra []string, args ...string) (string, error) {
	t.Helper()
	env := append(gitserver.Env(t.TempDir()), extra...)
	return gitserver.Run(t.Context(), dir, env, args...)
}

func newWorkTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	gitserver.Git(t, dir, "init", "--quiet", "--initial-branch=main")
	return dir
}

// commitFile commits name=content in the work tree dir and returns the commit.
func commitFile(t *testing.T, dir, name, content, subject string) string {
	t.Helper()
	writeFile(t, filepath.Join(dir, name), []byte(content))
	gitserver.Git(t, dir, "add", name)
	gitserver.Git(t, dir, "commit", "--quiet", "-m", subject)
	return gitserver.Git(t, dir, "rev-parse", "HEAD")
}

// seedRemote gives bare a first commit through the local transport, so tests
// of rejected pushes have refs that must stay exactly as they are.
func seedRemote(t *testing.T, bare string) map[string]string {
	t.Helper()
	work := newWorkTree(t)
	commitFile(t, work, "seed.txt", "seed\n", "seed")
	gitserver.Git(t, work, "push", "--quiet", bare, "main")
	refs := gitserver.Refs(t, bare)
	if refs["refs/heads/main"] == "" {
		t.Fatalf("seeding %s left no main branch: %v", bare, refs)
	}
	return refs
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	// 0600 because OpenSSH refuses private keys other users can read.
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
	return path
}

// sshCommandEnv makes the git CLI use exactly this key and known_hosts entry,
// ignoring ~/.ssh, ssh-agent and any ssh_config of the machine.
func sshCommandEnv(t *testing.T, keyPEM []byte, knownHostsLine string) []string {
	t.Helper()
	env, err := gitserver.SSHCommandEnv(t.TempDir(), keyPEM, knownHostsLine)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// goGitSSHAuth is how the operator authenticates: the Secret's private key and
// a HostKeyCallback built from a known_hosts file.
func goGitSSHAuth(t *testing.T, keyPEM []byte, knownHostsLine string) *gitssh.PublicKeys {
	t.Helper()
	auth, err := gitssh.NewPublicKeys("git", keyPEM, "")
	if err != nil {
		t.Fatalf("loading client key: %v", err)
	}
	path := writeFile(t, filepath.Join(t.TempDir(), "known_hosts"), []byte(knownHostsLine+"\n"))
	callback, err := knownhosts.New(path)
	if err != nil {
		t.Fatalf("loading known_hosts: %v", err)
	}
	auth.HostKeyCallback = callback
	return auth
}

// goGitRepo is a go-git work tree on main whose origin is url.
func goGitRepo(t *testing.T, url string) (*git.Repository, string) {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		t.Fatalf("go-git init: %v", err)
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{url}}); err != nil {
		t.Fatalf("go-git remote: %v", err)
	}
	return repo, dir
}

func goGitCommit(t *testing.T, repo *git.Repository, dir, name, subject string) string {
	t.Helper()
	writeFile(t, filepath.Join(dir, name), []byte(subject+"\n"))
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatalf("go-git worktree: %v", err)
	}
	if _, err := wt.Add(name); err != nil {
		t.Fatalf("go-git add: %v", err)
	}
	sig := &object.Signature{Name: "operator", Email: "operator@example.invalid", When: time.Now()}
	hash, err := wt.Commit(subject, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatalf("go-git commit: %v", err)
	}
	return hash.String()
}

func goGitPush(t *testing.T, repo *git.Repository, auth transport.AuthMethod, caBundle []byte) error {
	t.Helper()
	return repo.PushContext(t.Context(), &git.PushOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{"refs/heads/main:refs/heads/main"},
		Auth:       auth,
		CABundle:   caBundle,
	})
}

func newClientKey(t *testing.T) *gitserver.ClientKey {
	t.Helper()
	key, err := gitserver.NewClientKey()
	if err != nil {
		t.Fatalf("%v", err)
	}
	return key
}
