package gitwriter

import (
	"net"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// serveAgent runs an SSH agent holding key on a Unix socket, speaking the agent protocol as
// ssh-agent does, and points SSH_AUTH_SOCK at it.
func serveAgent(t *testing.T, keyPEM []byte) {
	t.Helper()
	key, err := ssh.ParseRawPrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: key}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer conn.Close(); _ = agent.ServeAgent(keyring, conn) }()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
}

// The file-config mode signs with the user's SSH agent when it has no key of its own, still
// checking the host against known_hosts, and asks the remote for its default branch.
func TestSSHAgentAndDefaultBranch(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	gitserver.PushFiles(t, remote.Dir, "trunk", "first", map[string]string{"a.yaml": "a: 1\n"})
	gitserver.Git(t, remote.Dir, "symbolic-ref", "HEAD", "refs/heads/trunk")
	serveAgent(t, remote.Key.PrivateKeyPEM)

	creds := Credentials{SSHAgent: true, KnownHosts: []byte(remote.Server.KnownHosts())}
	branches, err := Check(t.Context(), remote.URL, creds)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(branches).To(ContainElement("trunk"))
	branch, err := DefaultBranch(t.Context(), remote.URL, creds, t.TempDir())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(branch).To(Equal("trunk"))

	// An agent without the key the server wants is refused; so is a host not in known_hosts.
	other, err := gitserver.NewClientKey()
	g.Expect(err).NotTo(HaveOccurred())
	serveAgent(t, other.PrivateKeyPEM)
	_, err = Check(t.Context(), remote.URL, creds)
	g.Expect(Classify(err)).To(Equal("AuthenticationFailed"))
	serveAgent(t, remote.Key.PrivateKeyPEM)
	_, err = Check(t.Context(), remote.URL, Credentials{SSHAgent: true, KnownHosts: []byte("[127.0.0.1]:1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n")})
	g.Expect(err).To(HaveOccurred())
	g.Expect(Classify(err)).To(Equal("HostKeyMismatch"))
}
