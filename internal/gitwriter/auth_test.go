package gitwriter

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
	"golang.org/x/crypto/ssh"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

func TestPassphraseProtectedSSHKey(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	g.Expect(err).NotTo(HaveOccurred())
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "gitops-reverser", []byte("correct horse"))
	g.Expect(err).NotTo(HaveOccurred())
	sshPub, err := ssh.NewPublicKey(pub)
	g.Expect(err).NotTo(HaveOccurred())
	remote.Server.Authorize(sshPub)

	// Flux keeps the passphrase under "password", Kubernetes-style Secrets under "passphrase".
	creds := CredentialsFromSecret(map[string][]byte{
		"identity": pem.EncodeToMemory(block), "password": []byte("correct horse"), "known_hosts": []byte(remote.Server.KnownHosts()),
	})
	cfg := remote.config(t, "main")
	cfg.Credentials = creds
	w := start(t, cfg)
	_, err = w.Commit(t.Context(), configMapChange(alice, 1, "v1"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(w.Flush(t.Context())).To(Succeed())
	g.Expect(subjects(t, remote.Dir, "main")).To(HaveLen(1))

	cfg = remote.config(t, "main")
	cfg.Credentials = creds
	cfg.Credentials.Passphrase = []byte("wrong")
	_, err = New(cfg)
	g.Expect(err).To(MatchError(ErrInvalidCredentials))
	g.Expect(Classify(err)).To(Equal("InvalidCredentials"))
}

func TestFileURL(t *testing.T) {
	g := NewWithT(t)
	dir := gitserver.NewBareRepo(t, t.TempDir(), "local")
	w := start(t, Config{URL: "file://" + dir, Branch: "main", WorkDir: filepath.Join(t.TempDir(), "work"), Push: PushPolicy{MaxCommits: 1}})
	for i := range 3 {
		_, err := w.Commit(t.Context(), configMapChange(alice, i, "v1"))
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Expect(w.Flush(t.Context())).To(Succeed())
	g.Expect(subjects(t, dir, "main")).To(HaveLen(3))
	gitserver.Fsck(t, dir)
}

func TestTheRegistryRefusesADisallowedBranch(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	r := startRegistry(t)
	_, err := r.Acquire(t.Context(), "GitTarget default/sneaky", Key{URL: remote.URL, Branch: "hotfix"},
		Settings{Credentials: remote.credentials(), AllowedBranches: []string{"main", "env/*"}})
	g.Expect(err).To(MatchError(ErrBranchNotAllowed))
	g.Expect(Classify(err)).To(Equal("BranchNotAllowed"))
	g.Expect(r.Statuses(remote.URL)).To(BeEmpty(), "no writer was started")
	g.Expect(gitserver.Refs(t, remote.Dir)).To(BeEmpty())

	w, err := r.Acquire(t.Context(), "GitTarget default/prod", Key{URL: remote.URL, Branch: "env/prod"},
		Settings{Credentials: remote.credentials(), AllowedBranches: []string{"main", "env/*"}, Push: PushPolicy{MaxCommits: 1}})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = w.Commit(t.Context(), configMapChange(alice, 1, "v1"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(w.Flush(t.Context())).To(Succeed())
	g.Expect(gitserver.Refs(t, remote.Dir)).To(HaveKey("refs/heads/env/prod"))
}
