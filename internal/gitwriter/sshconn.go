package gitwriter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
)

const (
	// sshIdleMax is how long an unused connection is trusted: NAT gateways and servers drop idle
	// connections without telling, and a push on a dead one would only fail at its timeout.
	// Beyond it the next push dials again, which at that rate costs nothing that matters.
	sshIdleMax = time.Minute
	// sshOpenTimeout bounds opening a session on a connection we reuse: a server that does not
	// answer a channel open in that time is gone, and a fresh connection is tried.
	sshOpenTimeout = 15 * time.Second
)

// sshConn is the one SSH connection a remote keeps open across pushes: a push opens a session
// on it (what `ssh host git-receive-pack` does on a multiplexed OpenSSH connection), so it pays
// neither the TCP connect nor the key exchange and authentication again. It dials on first use
// and again after the connection broke or idled past sshIdleMax.
type sshConn struct {
	addr   string
	config *ssh.ClientConfig
	// onDial, when set, is told of every new connection (tests count them).
	onDial func()

	mu       sync.Mutex
	client   *ssh.Client
	lastUsed time.Time
	closed   bool
}

// newSSHConn builds the connection's settings from go-git's SSH auth method, so that auth,
// known_hosts and the host key algorithms are exactly those of the listing and fetching path.
func newSSHConn(ep *transport.Endpoint, auth transport.AuthMethod) (*sshConn, error) {
	method, ok := auth.(gitssh.AuthMethod)
	if !ok {
		return nil, fmt.Errorf("an SSH remote needs SSH credentials: %w", transport.ErrInvalidAuthMethod)
	}
	config, err := method.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("preparing the SSH client: %w", err)
	}
	return &sshConn{addr: sshAddr(ep), config: config}, nil
}

// sshAddr is host:port as go-git's SSH transport computes it, ssh_config's Hostname and Port
// included, so that both paths reach the same server.
func sshAddr(ep *transport.Endpoint) string {
	host, port := ep.Host, ep.Port
	if cfg := gitssh.DefaultSSHConfig; cfg != nil {
		if h := cfg.Get(ep.Host, "Hostname"); h != "" {
			host = h
			if p, err := strconv.Atoi(cfg.Get(ep.Host, "Port")); err == nil && p > 0 {
				port = p
			}
		}
	}
	if port <= 0 {
		port = gitssh.DefaultPort
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// session opens a session on the kept connection, dialing when there is none (or it is stale),
// and once more on a fresh connection when the kept one turns out to be dead. reused says the
// session runs on a connection an earlier push used: its failure may mean the connection died
// while idle rather than that the server refused.
func (c *sshConn) session(ctx context.Context) (sess *ssh.Session, client *ssh.Client, reused bool, err error) {
	client, reused, err = c.get(ctx)
	if err != nil {
		return nil, nil, false, err
	}
	sess, err = openSession(ctx, client)
	if err == nil || !reused {
		return sess, client, reused, err
	}
	c.drop(client)
	if client, _, err = c.get(ctx); err != nil {
		return nil, nil, false, err
	}
	sess, err = openSession(ctx, client)
	return sess, client, false, err
}

// openSession is client.NewSession bounded by ctx and sshOpenTimeout: NewSession itself waits
// for the server's answer however long it takes. On timeout the connection is closed, which
// ends the wait.
func openSession(ctx context.Context, client *ssh.Client) (*ssh.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, sshOpenTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = client.Close() })
	sess, err := client.NewSession()
	if !stop() && err == nil {
		_ = sess.Close()
		err = ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("opening an SSH session: %w", err)
	}
	return sess, nil
}

// get returns the kept connection, or a new one.
func (c *sshConn) get(ctx context.Context) (*ssh.Client, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, false, errors.New("the SSH connection was closed: the remote is no longer in use")
	}
	now := time.Now()
	if c.client != nil && now.Sub(c.lastUsed) < sshIdleMax {
		c.lastUsed = now
		return c.client, true, nil
	}
	if c.client != nil {
		_ = c.client.Close()
		c.client = nil
	}
	// Dialing under the lock keeps two pushes from both dialing; a Writer pushes one at a time.
	client, err := c.dial(ctx)
	if err != nil {
		return nil, false, err
	}
	c.client, c.lastUsed = client, now
	if c.onDial != nil {
		c.onDial()
	}
	// When the server hangs up, forget the connection at once instead of at the next push.
	go func() {
		_ = client.Wait()
		c.drop(client)
	}()
	return client, false, nil
}

// dial connects and runs the SSH handshake, both bounded by ctx.
func (c *sshConn) dial(ctx context.Context) (*ssh.Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", c.addr, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(conn, c.addr, c.config)
	if !stop() {
		if err == nil {
			_ = sc.Close()
		}
		_ = conn.Close()
		return nil, fmt.Errorf("SSH handshake with %s: %w", c.addr, ctx.Err())
	}
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("SSH handshake with %s: %w", c.addr, explainHostKey(err))
	}
	return ssh.NewClient(sc, chans, reqs), nil
}

// drop closes client and forgets it if it is the kept connection.
func (c *sshConn) drop(client *ssh.Client) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client == client {
		c.client = nil
	}
	_ = client.Close()
}

// Close closes the connection for good; sessions on it end.
func (c *sshConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.client == nil {
		return nil
	}
	err := c.client.Close()
	c.client = nil
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("closing the SSH connection to %s: %w", c.addr, err)
	}
	return nil
}

// shellQuote quotes s for the remote shell the way Git's sq_quote_buf does: in single quotes,
// with ' and ! closed, escaped and reopened. Servers such as git-shell undo exactly this.
func shellQuote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' || s[i] == '!' {
			b.WriteString(`'\`)
			b.WriteByte(s[i])
			b.WriteByte('\'')
			continue
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('\'')
	return b.String()
}
