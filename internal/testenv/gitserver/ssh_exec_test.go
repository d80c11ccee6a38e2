package gitserver_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"golang.org/x/crypto/ssh"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// execResult is what an SSH client sees from one exec request.
type execResult struct {
	stdout, stderr string
	status         int // -1 when the session ended without an exit status
	err            error
}

// sshExec sends command as a raw exec request, the way a Git client does
// before speaking the pack protocol. A lone flush packet on stdin ends the
// conversation the way `git ls-remote` does after the ref advertisement.
func sshExec(t *testing.T, srv *gitserver.SSHServer, key *gitserver.ClientKey, command string) execResult {
	t.Helper()
	signer, err := ssh.ParsePrivateKey(key.PrivateKeyPEM)
	if err != nil {
		t.Fatalf("parsing client key: %v", err)
	}
	client, err := ssh.Dial("tcp", srv.Addr(), &ssh.ClientConfig{
		User:            "git",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(srv.HostKey()),
	})
	if err != nil {
		t.Fatalf("dialing %s: %v", srv.Addr(), err)
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		t.Fatalf("opening session: %v", err)
	}
	defer session.Close()
	var stdout, stderr bytes.Buffer
	session.Stdin = strings.NewReader("0000")
	session.Stdout = &stdout
	session.Stderr = &stderr
	res := execResult{status: 0}
	if err := session.Run(command); err != nil {
		res.err = err
		res.status = -1
		if exitErr, ok := errors.AsType[*ssh.ExitError](err); ok {
			res.status = exitErr.ExitStatus()
		}
	}
	res.stdout, res.stderr = stdout.String(), stderr.String()
	return res
}

func TestSSHExecAcceptsGitCommandSpellings(t *testing.T) {
	root := t.TempDir()
	bare := gitserver.NewBareRepo(t, root, "spell")
	head := seedRemote(t, bare)["refs/heads/main"]
	key := newClientKey(t)
	srv := gitserver.StartSSHServer(t, root, key.PublicKey)

	for _, command := range []string{
		"git-upload-pack '/spell.git'",
		"git-upload-pack 'spell.git'",
		"git-upload-pack /spell.git",
		"git upload-pack 'spell.git'",
		"git upload-pack spell",
		`git-upload-pack "/spell.git"`,
		"git-receive-pack '/spell.git'",
		"git receive-pack spell.git",
	} {
		t.Run(command, func(t *testing.T) {
			g := NewWithT(t)
			res := sshExec(t, srv, key, command)
			g.Expect(res.err).NotTo(HaveOccurred(), "stderr: %s", res.stderr)
			g.Expect(res.stdout).To(ContainSubstring(head + " refs/heads/main"))
		})
	}
}

func TestSSHExecRefusesEverythingButGitServicesInsideTheRoot(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	gitserver.NewBareRepo(t, root, "inside")
	outside := gitserver.NewBareRepo(t, parent, "outside")
	seedRemote(t, outside)
	// A symlink inside the root must not smuggle clients out of it.
	if err := os.Symlink(outside, filepath.Join(root, "link.git")); err != nil {
		t.Fatalf("creating symlink: %v", err)
	}
	key := newClientKey(t)
	srv := gitserver.StartSSHServer(t, root, key.PublicKey)

	for command, wantStderr := range map[string]string{
		"git-upload-pack '/../outside.git'":    "'..' segment",
		"git-upload-pack 'inside.git/../..'":   "'..' segment",
		"git-receive-pack '" + outside + "'":   "not found", // absolute paths are relative to the root
		"git-upload-pack '/link.git'":          "resolves outside the server root",
		"git-upload-pack '/missing.git'":       "not found",
		"git-upload-pack '/--help'":            "segment starting with",
		"git-upload-archive '/inside.git'":     "only git-upload-pack and git-receive-pack",
		"sh -c 'cat /etc/passwd'":              "unsupported command",
		"git-upload-pack '/inside.git'; id":    "unsupported command",
		"git-upload-pack '/inside.git":         "unterminated single quote",
		"git-upload-pack '/inside.git' --help": "unsupported command",
	} {
		t.Run(command, func(t *testing.T) {
			g := NewWithT(t)
			res := sshExec(t, srv, key, command)
			g.Expect(res.status).To(Equal(128))
			g.Expect(res.stderr).To(ContainSubstring("gitserver: "))
			g.Expect(res.stderr).To(ContainSubstring(wantStderr))
			g.Expect(res.stdout).To(BeEmpty())
		})
	}
}

// An outage must not wait for clients to finish: Stop has to cut a session
// whose git process is blocked reading from a client that never sends more.
func TestSSHStopCutsOpenSessions(t *testing.T) {
	g := NewWithT(t)
	root := t.TempDir()
	bare := gitserver.NewBareRepo(t, root, "busy")
	head := seedRemote(t, bare)["refs/heads/main"]
	key := newClientKey(t)
	srv := gitserver.StartSSHServer(t, root, key.PublicKey)

	signer, err := ssh.ParsePrivateKey(key.PrivateKeyPEM)
	g.Expect(err).NotTo(HaveOccurred())
	client, err := ssh.Dial("tcp", srv.Addr(), &ssh.ClientConfig{
		User:            "git",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(srv.HostKey()),
	})
	g.Expect(err).NotTo(HaveOccurred())
	defer client.Close()
	session, err := client.NewSession()
	g.Expect(err).NotTo(HaveOccurred())
	stdin, err := session.StdinPipe() // never written to or closed
	g.Expect(err).NotTo(HaveOccurred())
	defer stdin.Close()
	stdout, err := session.StdoutPipe()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(session.Start("git-receive-pack '/busy.git'")).To(Succeed())
	// The first advertised ref proves git-receive-pack is up and now waits
	// for the client's commands.
	advert := make([]byte, 4+len(head))
	_, err = io.ReadFull(stdout, advert)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(advert[4:])).To(Equal(head))

	g.Expect(srv.Stop()).To(Succeed())
	err = session.Wait()
	g.Expect(err).To(HaveOccurred(), "a cut session must not look like a successful push")
	g.Expect(gitserver.Refs(t, bare)).To(HaveKeyWithValue("refs/heads/main", head))
}
