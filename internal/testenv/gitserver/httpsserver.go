package gitserver

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/tlsca"
)

// maxBufferedBody caps how much of a chunked request body is held in memory;
// see serveGit.
const maxBufferedBody = 1 << 30

// Credential is one login the HTTPS server accepts. With an empty Username,
// Password is a token: it is accepted as the basic-auth password with any
// username, or as "Authorization: Bearer <token>", the two ways hosting
// services accept personal access tokens.
type Credential struct {
	Username string
	Password string
}

// HTTPSServer serves the bare repositories under a root directory over the
// Git smart HTTP protocol: TLS with a private CA, authentication, then the real
// git-http-backend through CGI.
type HTTPSServer struct {
	root    string
	backend string
	creds   []Credential
	tls     *tlsca.Serving

	// conns counts accepted TCP connections, so tests can tell a client that keeps its
	// connections alive from one that connects per request.
	conns atomic.Int64

	mu   sync.Mutex
	addr string           // kept across Stop so Start rebinds the same port
	srv  *httptest.Server // nil while stopped
}

// NewHTTPSServer starts an HTTPS server on a free 127.0.0.1 port serving the
// bare repositories under root to clients presenting one of creds. At least
// one credential is required: an anonymous server would let tests that forget
// to send credentials pass. Call Close when done.
func NewHTTPSServer(root string, creds ...Credential) (*HTTPSServer, error) {
	if len(creds) == 0 {
		return nil, errors.New("https git server needs at least one credential")
	}
	for i, c := range creds {
		if c.Password == "" {
			return nil, fmt.Errorf("credential %d has an empty password", i)
		}
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("resolving repository root %s: %w", root, err)
	}
	execPath, err := gitExecPath(context.Background())
	if err != nil {
		return nil, err
	}
	certs, err := tlsca.New("gitserver test CA")
	if err != nil {
		return nil, err
	}
	s := &HTTPSServer{
		root:    absRoot,
		backend: filepath.Join(execPath, "git-http-backend"),
		creds:   slices.Clone(creds),
		tls:     certs,
	}
	if err := s.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

// StartHTTPSServer is [NewHTTPSServer] for tests: it fails t on error and
// closes the server when the test ends.
func StartHTTPSServer(t testing.TB, root string, creds ...Credential) *HTTPSServer {
	t.Helper()
	s, err := NewHTTPSServer(root, creds...)
	if err != nil {
		t.Fatalf("starting HTTPS git server: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing HTTPS git server: %v", err)
		}
	})
	return s
}

// Addr returns the "127.0.0.1:PORT" the server listens on. It stays the same
// across Stop and Start.
func (s *HTTPSServer) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// URL returns the clone URL of repo, e.g. "https://127.0.0.1:PORT/repo.git".
func (s *HTTPSServer) URL(repo string) string {
	return "https://" + s.Addr() + "/" + urlPath(repo)
}

// CAPEM returns the PEM-encoded CA certificate clients must trust, e.g. as
// go-git's CABundle or git's http.sslCAInfo.
func (s *HTTPSServer) CAPEM() []byte {
	return bytes.Clone(s.tls.CAPEM)
}

// Connections is how many TCP connections the server has accepted since it was created.
func (s *HTTPSServer) Connections() int {
	return int(s.conns.Load())
}

// Start listens again after Stop, on the same address and with the same
// certificate. Starting a running server is an error.
func (s *HTTPSServer) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("https git server already running")
	}
	ln, err := listenLoopback(context.Background(), s.addr)
	if err != nil {
		return fmt.Errorf("starting https git server: %w", err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(s.serveGit))
	// NewUnstartedServer grabbed a random port; swap in the listener on our
	// stable address.
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{s.tls.Cert},
		MinVersion:   tls.VersionTLS12,
	}
	srv.StartTLS()
	s.addr = ln.Addr().String()
	s.srv = srv
	return nil
}

// Stop simulates an outage: it closes the listener, drops open connections
// and waits for in-flight requests to finish. Clients get "connection
// refused" until Start is called. Stopping a stopped server is a no-op.
func (s *HTTPSServer) Stop() error {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	// Close alone would wait for active keep-alive requests; an outage
	// does not.
	srv.CloseClientConnections()
	srv.Close()
	return nil
}

// Close stops the server for good.
func (s *HTTPSServer) Close() error {
	return s.Stop()
}

func (s *HTTPSServer) serveGit(w http.ResponseWriter, r *http.Request) {
	user, ok := s.authenticate(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="gitserver"`)
		// What Apache httpd, the most common server in front of git-http-backend, answers.
		w.Header().Set("Content-Type", "text/html; charset=iso-8859-1")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, apacheUnauthorized)
		return
	}
	// git-http-backend rejects these too; refusing here keeps the guarantee
	// independent of the installed Git version.
	if slices.Contains(strings.Split(r.URL.Path, "/"), "..") {
		http.NotFound(w, r)
		return
	}
	// git sends pushes larger than http.postBuffer chunked, and CGI cannot
	// pass a body of unknown length; buffer it to give it one.
	if slices.Contains(r.TransferEncoding, "chunked") {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBufferedBody))
		if err != nil {
			http.Error(w, "reading request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.TransferEncoding = nil
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	backend := &cgi.Handler{
		Path: s.backend,
		Dir:  s.root,
		Env: append(Env(s.root),
			"GIT_PROJECT_ROOT="+s.root,
			"GIT_HTTP_EXPORT_ALL=1",
			"REMOTE_USER="+user,
		),
	}
	backend.ServeHTTP(w, r)
}

// authenticate returns the user name git-http-backend should record for the
// request, or false if no configured credential matches.
func (s *HTTPSServer) authenticate(r *http.Request) (string, bool) {
	if user, pass, ok := r.BasicAuth(); ok {
		for _, c := range s.creds {
			if (c.Username == "" || equal(c.Username, user)) && equal(c.Password, pass) {
				if user == "" {
					user = "token"
				}
				return user, true
			}
		}
		return "", false
	}
	if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		for _, c := range s.creds {
			if c.Username == "" && equal(c.Password, token) {
				return "token", true
			}
		}
	}
	return "", false
}

// equal compares secrets in constant time, as any real credential check does.
func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// apacheUnauthorized is Apache httpd 2.4's page for a 401.
const apacheUnauthorized = `<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html><head>
<title>401 Unauthorized</title>
</head><body>
<h1>Unauthorized</h1>
<p>This server could not verify that you
are authorized to access the document
requested.  Either you supplied the wrong
credentials (e.g., bad password), or your
browser doesn't understand how to supply
the credentials required.</p>
<hr>
<address>Apache/2.4.62 (Debian) Server at 127.0.0.1 Port 443</address>
</body></html>
`
