package gitwriter

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	. "github.com/onsi/gomega"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// commitAndFlush makes commit i and waits until it is on the remote: one push per call.
func commitAndFlush(t *testing.T, w *Writer, i int) string {
	t.Helper()
	g := NewWithT(t)
	_, err := w.Commit(t.Context(), configMapChange(alice, i, "v1"))
	g.Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	g.Expect(w.Flush(ctx)).To(Succeed())
	return fmt.Sprintf("[UPDATE] configmaps default/cm-%d", i)
}

// sshGoroutines counts goroutines of SSH connections and of our pushes, client and server side
// (the server runs in this process too).
func sshGoroutines() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "golang.org/x/crypto/ssh.(*mux).loop") || strings.Contains(g, "gitwriter.(*sshConn)") ||
			strings.Contains(g, "gitwriter.(*goGitRemote).receivePackSSH") {
			n++
		}
	}
	return n
}

func TestSSHPushesShareOneConnectionClosedWithTheWriter(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	w, stop := runSynced(t, remote.config(t, "main"))
	before := remote.Server.Handshakes()
	var want []string
	for i := range 10 {
		want = append(want, commitAndFlush(t, w, i))
	}
	g.Expect(subjects(t, remote.Dir, "main")).To(Equal(want))
	g.Expect(remote.Server.Handshakes()-before).To(Equal(1), "ten pushes should share one connection")
	g.Expect(remote.Server.OpenConnections()).To(Equal(1), "the connection is kept between pushes")
	gitserver.Fsck(t, remote.Dir)

	stop()
	g.Eventually(remote.Server.OpenConnections).WithTimeout(10*time.Second).Should(BeZero(),
		"the Writer's connection outlived it")
	g.Eventually(sshGoroutines).WithTimeout(10*time.Second).Should(BeZero(), "SSH goroutines outlived the Writer")
}

func TestAPushAfterTheServerDroppedTheConnectionReconnects(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	cfg := remote.config(t, "main")
	status := recordStatus(&cfg)
	w := startSynced(t, cfg)
	var want []string
	for i := range 6 {
		want = append(want, commitAndFlush(t, w, i))
		before := remote.Server.Handshakes()
		// As a server restart or an idle timeout at the far end does. Every other time the push
		// follows at once, before the client may have noticed, so that it finds the kept
		// connection dead when it opens its session.
		remote.Server.DropConnections()
		if i%2 == 0 {
			g.Eventually(remote.Server.OpenConnections).Should(BeZero())
		}
		want = append(want, commitAndFlush(t, w, 100+i))
		g.Expect(remote.Server.Handshakes() - before).To(Equal(1))
	}
	g.Expect(subjects(t, remote.Dir, "main")).To(Equal(want))
	reasons := status.reasons()
	g.Expect(reasons).To(HaveEach(BeElementOf("Progressing", "Connected")), "a dropped connection is no failure: %v", reasons)
}

func TestAPushToAnImpostorSaysTheHostKeyDoesNotMatch(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	creds := remote.credentials()
	creds.KnownHosts = []byte(impostorKnownHosts(t, remote.Server.Addr()) + "\n")
	ep, err := newRemoteEndpoint(remote.URL, creds, filepath.Join(t.TempDir(), "known_hosts"))
	g.Expect(err).NotTo(HaveOccurred())
	r, err := newGoGitRemote(ep, nil)
	g.Expect(err).NotTo(HaveOccurred())
	defer r.Close()
	err = r.Push(t.Context(), "main", plumbing.ZeroHash, plumbing.NewHash(strings.Repeat("ab", 20)), nil)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("the server's SSH host key does not match known_hosts"))
	g.Expect(Classify(err)).To(Equal("HostKeyMismatch"))
	g.Expect(remote.Server.Handshakes()).To(BeZero())
}

func TestHTTPSPushesKeepTheirConnectionAlive(t *testing.T) {
	g := NewWithT(t)
	remote := newHTTPSRemote(t, gitserver.Credential{Username: "u", Password: "p"})
	w := startSynced(t, writerConfig(t, remote.URL, "main",
		Credentials{Username: "u", Password: "p", CABundle: remote.Server.CAPEM()}))
	want := []string{commitAndFlush(t, w, 0)}
	before := remote.Server.Connections()
	for i := 1; i < 6; i++ {
		want = append(want, commitAndFlush(t, w, i))
	}
	g.Expect(subjects(t, remote.Dir, "main")).To(Equal(want))
	g.Expect(remote.Server.Connections()-before).To(BeZero(), "pushes should reuse the first push's connection")
}

// A kept connection can be dead without the client knowing yet (the far end vanished, the
// close is still on its way): the push finds out when its session does not open, and goes on a
// fresh connection.
func TestAPushOnAConnectionThatDiedUnnoticedGoesOnAFreshOne(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	w := startSynced(t, remote.config(t, "main"))
	want := []string{commitAndFlush(t, w, 0)}
	conn := w.remote.(*goGitRemote).ssh // the Writer is idle: Flush returned
	dialed := remote.Server.Handshakes()
	dead, err := conn.dial(t.Context())
	g.Expect(err).NotTo(HaveOccurred())
	// The server counts a handshake a moment after the client has finished it.
	g.Eventually(remote.Server.Handshakes).Should(Equal(dialed + 1))
	g.Expect(dead.Close()).To(Succeed())
	conn.mu.Lock()
	kept := conn.client
	conn.client, conn.lastUsed = dead, time.Now()
	conn.mu.Unlock()
	_ = kept.Close()
	before := remote.Server.Handshakes()

	want = append(want, commitAndFlush(t, w, 1))
	g.Expect(subjects(t, remote.Dir, "main")).To(Equal(want))
	g.Expect(remote.Server.Handshakes() - before).To(Equal(1))
	g.Expect(w.Status().Reason).To(Equal("Connected"))
}

// TestCommitsAndPushesOfAHealthyWriterReportNoStatusChange: the GitProvider reconciles on every
// status its Writers report, each time with a check of the remote of its own.
func TestCommitsAndPushesOfAHealthyWriterReportNoStatusChange(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	cfg := remote.config(t, "main")
	status := recordStatus(&cfg)
	w := startSynced(t, cfg)
	for i := range 5 {
		commitAndFlush(t, w, i)
	}
	g.Expect(w.Status().Pending).To(BeZero())
	g.Expect(w.Status().LastPush).NotTo(BeZero())
	reported := status.statuses()
	g.Expect(reported).To(HaveLen(1), "connecting, then Connected: %v", reported)
	g.Expect(reported[0].Reason).To(Equal("Connected"))
}
