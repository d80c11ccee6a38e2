package gitserver_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/go-git/go-git/v5"
	. "github.com/onsi/gomega"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

func TestSSHGitCLIPushCloneAndFetch(t *testing.T) {
	g := NewWithT(t)
	root := t.TempDir()
	bare := gitserver.NewBareRepo(t, root, "team/cli")
	key := newClientKey(t)
	srv := gitserver.StartSSHServer(t, root, key.PublicKey)
	url := srv.URL("team/cli")
	g.Expect(url).To(Equal("ssh://git@" + srv.Addr() + "/team/cli.git"))
	g.Expect(srv.KnownHosts()).To(HavePrefix("[127.0.0.1]:"))
	env := sshCommandEnv(t, key.PrivateKeyPEM, srv.KnownHosts())

	work := newWorkTree(t)
	first := commitFile(t, work, "a.txt", "a\n", "first over ssh")
	_, err := runGit(t, work, env, "push", "--quiet", url, "main")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(gitserver.Log(t, bare, "main")).To(Equal([]gitserver.Commit{{Hash: first, Subject: "first over ssh"}}))
	gitserver.Fsck(t, bare)

	// Protocol v2 only happens if the server passes GIT_PROTOCOL from the
	// client's env request through to upload-pack.
	trace := filepath.Join(t.TempDir(), "packet-trace")
	clone := filepath.Join(t.TempDir(), "clone")
	_, err = runGit(t, t.TempDir(), append(env, "GIT_TRACE_PACKET="+trace),
		"-c", "protocol.version=2", "clone", "--quiet", url, clone)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(gitserver.Git(t, clone, "rev-parse", "HEAD")).To(Equal(first))
	packets, err := os.ReadFile(trace)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(packets)).To(MatchRegexp(`packet: +clone< version 2\n`))

	second := commitFile(t, work, "b.txt", "b\n", "second over ssh")
	_, err = runGit(t, work, env, "push", "--quiet", url, "main")
	g.Expect(err).NotTo(HaveOccurred())
	_, err = runGit(t, clone, env, "fetch", "--quiet", "origin")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(gitserver.Git(t, clone, "rev-parse", "origin/main")).To(Equal(second))
	g.Expect(gitserver.Log(t, bare, "main")).To(HaveLen(2))
	gitserver.Fsck(t, bare)
}

func TestSSHGoGitPushAndClone(t *testing.T) {
	g := NewWithT(t)
	root := t.TempDir()
	bare := gitserver.NewBareRepo(t, root, "gogit")
	key := newClientKey(t)
	srv := gitserver.StartSSHServer(t, root, key.PublicKey)
	auth := goGitSSHAuth(t, key.PrivateKeyPEM, srv.KnownHosts())

	repo, dir := goGitRepo(t, srv.URL("gogit"))
	first := goGitCommit(t, repo, dir, "a.yaml", "operator commit 1")
	g.Expect(goGitPush(t, repo, auth, nil)).To(Succeed())
	second := goGitCommit(t, repo, dir, "b.yaml", "operator commit 2")
	g.Expect(goGitPush(t, repo, auth, nil)).To(Succeed())

	g.Expect(gitserver.Log(t, bare, "main")).To(Equal([]gitserver.Commit{
		{Hash: second, Subject: "operator commit 2"},
		{Hash: first, Subject: "operator commit 1"},
	}))
	gitserver.Fsck(t, bare)

	cloned, err := git.PlainCloneContext(t.Context(), t.TempDir(), false, &git.CloneOptions{
		URL:  srv.URL("gogit"),
		Auth: auth,
	})
	g.Expect(err).NotTo(HaveOccurred())
	head, err := cloned.Head()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(head.Hash().String()).To(Equal(second))
}

func TestSSHClientsRejectAWrongHostKey(t *testing.T) {
	g := NewWithT(t)
	root := t.TempDir()
	bare := gitserver.NewBareRepo(t, root, "hostkey")
	before := seedRemote(t, bare)
	key := newClientKey(t)
	srv := gitserver.StartSSHServer(t, root, key.PublicKey)
	impostor := newClientKey(t).PublicKey
	wrongHosts := knownhosts.Line([]string{knownhosts.Normalize(srv.Addr())}, impostor)

	work := newWorkTree(t)
	commitFile(t, work, "a.txt", "a\n", "must not arrive")
	_, err := runGit(t, work, sshCommandEnv(t, key.PrivateKeyPEM, wrongHosts), "push", srv.URL("hostkey"), "main")
	g.Expect(err).To(MatchError(ContainSubstring("Host key verification failed")))

	repo, dir := goGitRepo(t, srv.URL("hostkey"))
	goGitCommit(t, repo, dir, "a.yaml", "must not arrive either")
	err = goGitPush(t, repo, goGitSSHAuth(t, key.PrivateKeyPEM, wrongHosts), nil)
	var keyErr *knownhosts.KeyError
	g.Expect(errors.As(err, &keyErr)).To(BeTrue(), "want a knownhosts mismatch, got %v", err)
	g.Expect(keyErr.Want).NotTo(BeEmpty(), "a mismatch, not an unknown host")

	g.Expect(gitserver.Refs(t, bare)).To(Equal(before))
}

func TestSSHServerRejectsAnUnknownClientKey(t *testing.T) {
	g := NewWithT(t)
	root := t.TempDir()
	bare := gitserver.NewBareRepo(t, root, "clientkey")
	before := seedRemote(t, bare)
	srv := gitserver.StartSSHServer(t, root, newClientKey(t).PublicKey)
	stranger := newClientKey(t)

	work := newWorkTree(t)
	commitFile(t, work, "a.txt", "a\n", "must not arrive")
	env := sshCommandEnv(t, stranger.PrivateKeyPEM, srv.KnownHosts())
	_, err := runGit(t, work, env, "push", srv.URL("clientkey"), "main")
	g.Expect(err).To(MatchError(ContainSubstring("Permission denied (publickey)")))

	repo, dir := goGitRepo(t, srv.URL("clientkey"))
	goGitCommit(t, repo, dir, "a.yaml", "must not arrive either")
	auth := goGitSSHAuth(t, stranger.PrivateKeyPEM, srv.KnownHosts())
	err = goGitPush(t, repo, auth, nil)
	g.Expect(err).To(MatchError(ContainSubstring("unable to authenticate")))
	g.Expect(gitserver.Refs(t, bare)).To(Equal(before))

	// Once authorized the same client gets in, so the refusal above was
	// about the key and nothing else. Its history is unrelated to the seed,
	// and the remote, like a protected branch, refuses even a forced
	// non-fast-forward.
	srv.Authorize(stranger.PublicKey)
	out, err := runGit(t, work, env, "ls-remote", srv.URL("clientkey"), "refs/heads/main")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(HavePrefix(before["refs/heads/main"]))
	_, err = runGit(t, work, env, "push", "--force", srv.URL("clientkey"), "main")
	g.Expect(err).To(MatchError(ContainSubstring("[remote rejected] main -> main (non-fast-forward)")))
	g.Expect(gitserver.Refs(t, bare)).To(Equal(before))
}

func TestSSHServerStopAndStartKeepTheURL(t *testing.T) {
	g := NewWithT(t)
	root := t.TempDir()
	bare := gitserver.NewBareRepo(t, root, "outage")
	key := newClientKey(t)
	srv := gitserver.StartSSHServer(t, root, key.PublicKey)
	addr, url, knownHosts := srv.Addr(), srv.URL("outage"), srv.KnownHosts()
	auth := goGitSSHAuth(t, key.PrivateKeyPEM, knownHosts)
	repo, dir := goGitRepo(t, url)
	first := goGitCommit(t, repo, dir, "a.yaml", "before outage")
	g.Expect(goGitPush(t, repo, auth, nil)).To(Succeed())

	g.Expect(srv.Stop()).To(Succeed())
	g.Expect(srv.Stop()).To(Succeed(), "stopping twice is harmless")
	goGitCommit(t, repo, dir, "b.yaml", "during outage")
	err := goGitPush(t, repo, auth, nil)
	g.Expect(errors.Is(err, syscall.ECONNREFUSED)).To(BeTrue(), "want connection refused, got %v", err)
	work := newWorkTree(t)
	commitFile(t, work, "c.txt", "c\n", "cli during outage")
	_, err = runGit(t, work, sshCommandEnv(t, key.PrivateKeyPEM, knownHosts), "push", url, "main")
	g.Expect(err).To(MatchError(ContainSubstring("Connection refused")))
	g.Expect(gitserver.Log(t, bare, "main")).To(HaveLen(1))

	g.Expect(srv.Start()).To(Succeed())
	g.Expect(srv.Start()).To(MatchError(ContainSubstring("already running")))
	g.Expect(srv.Addr()).To(Equal(addr))
	g.Expect(srv.URL("outage")).To(Equal(url))
	g.Expect(srv.KnownHosts()).To(Equal(knownHosts), "same host key after restart")
	g.Expect(goGitPush(t, repo, auth, nil)).To(Succeed())
	commits := gitserver.Log(t, bare, "main")
	g.Expect(commits).To(HaveLen(2))
	g.Expect(commits[0].Subject).To(Equal("during outage"))
	g.Expect(commits[1].Hash).To(Equal(first))
	gitserver.Fsck(t, bare)
}
