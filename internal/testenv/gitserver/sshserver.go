package gitserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHServer serves the bare repositories under a root directory over SSH the
// way a Git hosting service does: public-key authentication only, and only
// git-upload-pack / git-receive-pack may be executed.
type SSHServer struct {
	root     string
	execPath string
	hostKey  ssh.Signer
	config   *ssh.ServerConfig

	// handshakes counts SSH connections that authenticated, so tests can tell a client that
	// keeps its connection from one that dials per operation.
	handshakes atomic.Int64

	mu         sync.Mutex
	authorized map[string]bool // keyed by the key's wire encoding
	addr       string          // kept across Stop so Start rebinds the same port
	run        *sshRun         // nil while stopped
}

// sshRun is one Start..Stop lifetime. A fresh one per Start keeps a late
// goroutine of a previous lifetime from touching the new listener.
type sshRun struct {
	ln     net.Listener
	ctx    context.Context // cancelled by Stop to kill running git processes
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	stopped bool
	conns   map[net.Conn]struct{}
}

// NewSSHServer starts an SSH server on a free 127.0.0.1 port serving the bare
// repositories under root to clients holding one of the authorized keys.
// Call Close when done.
func NewSSHServer(root string, authorized ...ssh.PublicKey) (*SSHServer, error) {
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("resolving repository root %s: %w", root, err)
	}
	execPath, err := gitExecPath(context.Background())
	if err != nil {
		return nil, err
	}
	hostKey, err := newHostSigner()
	if err != nil {
		return nil, err
	}
	s := &SSHServer{
		root:       absRoot,
		execPath:   execPath,
		hostKey:    hostKey,
		authorized: map[string]bool{},
	}
	s.config = &ssh.ServerConfig{PublicKeyCallback: s.checkPublicKey}
	s.config.AddHostKey(hostKey)
	for _, key := range authorized {
		s.Authorize(key)
	}
	if err := s.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

// StartSSHServer is [NewSSHServer] for tests: it fails t on error and closes
// the server when the test ends.
func StartSSHServer(t testing.TB, root string, authorized ...ssh.PublicKey) *SSHServer {
	t.Helper()
	s, err := NewSSHServer(root, authorized...)
	if err != nil {
		t.Fatalf("starting SSH git server: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing SSH git server: %v", err)
		}
	})
	return s
}

// Authorize lets clients holding key's private half authenticate, e.g. a key
// generated after the server started.
func (s *SSHServer) Authorize(key ssh.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authorized[string(key.Marshal())] = true
}

func (s *SSHServer) checkPublicKey(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	s.mu.Lock()
	ok := s.authorized[string(key.Marshal())]
	s.mu.Unlock()
	if !ok {
		return nil, errors.New("public key not authorized")
	}
	return &ssh.Permissions{}, nil
}

// Addr returns the "127.0.0.1:PORT" the server listens on. It stays the same
// across Stop and Start.
func (s *SSHServer) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// URL returns the clone URL of repo, e.g. "ssh://git@127.0.0.1:PORT/repo.git".
func (s *SSHServer) URL(repo string) string {
	return "ssh://git@" + s.Addr() + "/" + urlPath(repo)
}

// HostKey returns the server's public host key.
func (s *SSHServer) HostKey() ssh.PublicKey {
	return s.hostKey.PublicKey()
}

// KnownHosts returns the known_hosts line that makes clients trust this server
// ("[127.0.0.1]:PORT ssh-ed25519 AAAA..."), without a trailing newline.
func (s *SSHServer) KnownHosts() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, s.HostKey())
}

// Start listens again after Stop, on the same address and with the same host
// key. Starting a running server is an error.
func (s *SSHServer) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run != nil {
		return errors.New("ssh git server already running")
	}
	ln, err := listenLoopback(context.Background(), s.addr)
	if err != nil {
		return fmt.Errorf("starting ssh git server: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	run := &sshRun{ln: ln, ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{}}
	s.addr = ln.Addr().String()
	s.run = run
	run.wg.Add(1)
	go s.serve(run)
	return nil
}

// Stop simulates an outage: it closes the listener, drops every open
// connection, kills running git processes and waits until all of them are
// gone. Clients get "connection refused" until Start is called. Stopping a
// stopped server is a no-op.
func (s *SSHServer) Stop() error {
	s.mu.Lock()
	run := s.run
	s.run = nil
	s.mu.Unlock()
	if run == nil {
		return nil
	}
	run.cancel()
	err := run.ln.Close()
	run.mu.Lock()
	run.stopped = true
	for c := range run.conns {
		_ = c.Close() // the peer may already have hung up
	}
	run.mu.Unlock()
	run.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("closing ssh listener: %w", err)
	}
	return nil
}

// Handshakes is how many SSH connections have authenticated since the server was created.
func (s *SSHServer) Handshakes() int {
	return int(s.handshakes.Load())
}

// OpenConnections is how many client connections are open now.
func (s *SSHServer) OpenConnections() int {
	s.mu.Lock()
	run := s.run
	s.mu.Unlock()
	if run == nil {
		return 0
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	return len(run.conns)
}

// DropConnections closes every open connection, as a server restart or an idle timeout at the
// far end would, and keeps listening: the next client connection succeeds.
func (s *SSHServer) DropConnections() {
	s.mu.Lock()
	run := s.run
	s.mu.Unlock()
	if run == nil {
		return
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	for c := range run.conns {
		_ = c.Close() // the peer may already have hung up
	}
}

// Close stops the server for good.
func (s *SSHServer) Close() error {
	return s.Stop()
}

func (s *SSHServer) serve(run *sshRun) {
	defer run.wg.Done()
	for {
		conn, err := run.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		run.mu.Lock()
		if run.stopped {
			run.mu.Unlock()
			_ = conn.Close()
			return
		}
		run.conns[conn] = struct{}{}
		// Add while holding run.mu: Stop sets stopped under the same lock
		// before it waits, so no Add can race with a Wait at zero.
		run.wg.Add(1)
		run.mu.Unlock()
		go func() {
			defer run.wg.Done()
			s.handleConn(run.ctx, conn)
			run.mu.Lock()
			delete(run.conns, conn)
			run.mu.Unlock()
		}()
	}
}

func (s *SSHServer) handleConn(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	sconn, chans, reqs, err := ssh.NewServerConn(conn, s.config)
	if err != nil {
		// Failed handshakes (unknown client key, client rejecting our host
		// key) are expected in tests; the client reports them.
		return
	}
	defer sconn.Close()
	s.handshakes.Add(1)
	var wg sync.WaitGroup
	wg.Go(func() { ssh.DiscardRequests(reqs) })
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only session channels are supported")
			continue
		}
		wg.Go(func() { s.handleSession(ctx, nc) })
	}
	// chans closes when the connection ends (client hung up or Stop closed
	// it); sessions still finishing are waited for so Stop returns only once
	// no git process is left.
	wg.Wait()
}
