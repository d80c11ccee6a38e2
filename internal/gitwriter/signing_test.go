package gitwriter

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	. "github.com/onsi/gomega"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// verifyCommit runs the real `git verify-commit` on the bare repository with extra environment.
func verifyCommit(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "git", append(args, "verify-commit", "-v", "main")...)
	cmd.Dir = dir
	cmd.Env = append(gitserver.Env(t.TempDir()), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestSSHSignedCommitsVerifyWithGit(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	key, err := gitserver.NewClientKey()
	g.Expect(err).NotTo(HaveOccurred())
	signer, err := NewSigner(key.PrivateKeyPEM, nil, "")
	g.Expect(err).NotTo(HaveOccurred())
	cfg := remote.config(t, "main")
	cfg.Committer = Signature{Name: "gitops-reverser", Email: "operator@example.com"}
	cfg.Signer = signer
	w := start(t, cfg)
	_, err = w.Commit(t.Context(), configMapChange(alice, 1, "v1"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(w.Flush(t.Context())).To(Succeed())

	allowed := filepath.Join(t.TempDir(), "allowed_signers")
	g.Expect(os.WriteFile(allowed, []byte("operator@example.com "+string(key.AuthorizedKey)), 0o600)).To(Succeed())
	out, err := verifyCommit(t, remote.Dir, nil, "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+allowed)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring(`Good "git" signature for operator@example.com`))

	// Another key is not trusted: the same check fails, so the test above is not vacuous.
	other, err := gitserver.NewClientKey()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(os.WriteFile(allowed, []byte("operator@example.com "+string(other.AuthorizedKey)), 0o600)).To(Succeed())
	_, err = verifyCommit(t, remote.Dir, nil, "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+allowed)
	g.Expect(err).To(HaveOccurred())
	gitserver.Fsck(t, remote.Dir)
}

func TestOpenPGPSignedCommitsVerifyWithGit(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	entity, err := openpgp.NewEntity("gitops-reverser", "", "operator@example.com", nil)
	g.Expect(err).NotTo(HaveOccurred())
	var private, public bytes.Buffer
	w, err := armor.Encode(&private, openpgp.PrivateKeyType, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(entity.SerializePrivate(w, nil)).To(Succeed())
	g.Expect(w.Close()).To(Succeed())
	w, err = armor.Encode(&public, openpgp.PublicKeyType, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(entity.Serialize(w)).To(Succeed())
	g.Expect(w.Close()).To(Succeed())

	signer, err := NewSigner(private.Bytes(), nil, "")
	g.Expect(err).NotTo(HaveOccurred())
	cfg := remote.config(t, "main")
	cfg.Committer = Signature{Name: "gitops-reverser", Email: "operator@example.com"}
	cfg.Signer = signer
	writer := start(t, cfg)
	_, err = writer.Commit(t.Context(), configMapChange(alice, 1, "v1"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(writer.Flush(t.Context())).To(Succeed())

	gnupg := t.TempDir()
	imp := exec.CommandContext(t.Context(), "gpg", "--batch", "--homedir", gnupg, "--import")
	imp.Stdin = &public
	out, err := imp.CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), string(out))
	out2, err := verifyCommit(t, remote.Dir, []string{"GNUPGHOME=" + gnupg})
	g.Expect(err).NotTo(HaveOccurred(), out2)
	g.Expect(out2).To(ContainSubstring(`Good signature from "gitops-reverser <operator@example.com>"`))

	// With an empty keyring git cannot verify the signature.
	_, err = verifyCommit(t, remote.Dir, []string{"GNUPGHOME=" + t.TempDir()})
	g.Expect(err).To(HaveOccurred())
}

func TestSignerRejectsUnusableKeys(t *testing.T) {
	g := NewWithT(t)
	_, err := NewSigner([]byte("not a key"), nil, "")
	g.Expect(err).To(MatchError(ErrInvalidCredentials))
	_, err = NewSigner([]byte("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nnope\n-----END PGP PRIVATE KEY BLOCK-----\n"), nil, "")
	g.Expect(err).To(MatchError(ErrInvalidCredentials))
	g.Expect(strings.Contains(err.Error(), "OpenPGP")).To(BeTrue())
}
