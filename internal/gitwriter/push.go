package gitwriter

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

func (r *goGitRemote) Push(ctx context.Context, branch string, old, new plumbing.Hash, pack []byte) error {
	var report *packp.ReportStatus
	var err error
	if r.ssh != nil {
		report, err = r.pushSSH(ctx, branch, old, new, pack)
	} else {
		report, err = r.pushGoGit(ctx, branch, old, new, pack)
	}
	if err == nil || errors.Is(err, ErrStale) {
		return err
	}
	if report == nil {
		return fmt.Errorf("pushing to %s: %w", r.endpoint.url, explainHostKey(err))
	}
	// The ref moved between the advertisement and our update, or a hook said no.
	msg := err.Error()
	for _, lost := range []string{"stale", "lock", "fetch first", "non-fast-forward", "expected"} {
		if strings.Contains(msg, lost) {
			return fmt.Errorf("%w: %v", ErrStale, err)
		}
	}
	// git-receive-pack reports a ref that moved after its advertisement only as "failed to
	// update ref" (why goes to its stderr): whether the branch moved tells a lost race from a
	// refusal.
	if moved, lerr := r.moved(ctx, plumbing.NewBranchReferenceName(branch), old); lerr == nil && moved {
		return fmt.Errorf("%w: %v", ErrStale, err)
	}
	return fmt.Errorf("%w: %v", ErrRejected, err)
}

// pushGoGit pushes through go-git's transport: HTTP(S) with this remote's keep-alive client,
// file URLs with go-git's own.
func (r *goGitRemote) pushGoGit(ctx context.Context, branch string, old, new plumbing.Hash, pack []byte) (*packp.ReportStatus, error) {
	ep := r.endpoint.ep
	tr := r.http
	if tr != nil {
		// The client already trusts the CA bundle; left on the endpoint, it would make go-git
		// build a transport (and a connection) per session.
		copied := *ep
		copied.CaBundle = nil
		ep = &copied
	} else {
		var err error
		if tr, err = client.NewClient(ep); err != nil {
			return nil, err
		}
	}
	sess, err := tr.NewReceivePackSession(ep, r.endpoint.auth)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil && !errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return nil, err
	}
	name := plumbing.NewBranchReferenceName(branch)
	current := plumbing.ZeroHash
	if adv != nil {
		if current, err = advertised(adv, name); err != nil {
			return nil, err
		}
	}
	if current != old {
		return nil, fmt.Errorf("%w: %s is at %s, not at %s", ErrStale, branch, short(current), short(old))
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(adv.Capabilities)
	req.Commands = []*packp.Command{{Name: name, Old: old, New: new}}
	req.Packfile = io.NopCloser(bytes.NewReader(pack))
	return sess.ReceivePack(ctx, req)
}

// keepAliveHTTP is a go-git HTTP transport with a connection pool of its own, trusting caBundle
// besides the system's roots (as go-git does for an endpoint's CA bundle). It is per remote, not
// installed globally: client.InstallProtocol would change every remote of the process.
func keepAliveHTTP(caBundle []byte) (transport.Transport, error) {
	base, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return nil, errors.New("http.DefaultTransport is not an *http.Transport")
	}
	tr := base.Clone()
	if len(caBundle) > 0 {
		roots, err := x509.SystemCertPool()
		if err != nil || roots == nil {
			roots = x509.NewCertPool()
		}
		// A bundle without certificates adds nothing, as with go-git: the server's certificate
		// then fails verification, which is the error a user can act on.
		roots.AppendCertsFromPEM(caBundle)
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return githttp.NewClient(&http.Client{Transport: tr}), nil
}

// moved reports whether the remote branch name is no longer at old.
func (r *goGitRemote) moved(ctx context.Context, name plumbing.ReferenceName, old plumbing.Hash) (bool, error) {
	refs, err := r.list(ctx)
	if err != nil {
		return false, err
	}
	current := plumbing.ZeroHash
	for _, ref := range refs {
		if ref.Name() == name {
			current = ref.Hash()
		}
	}
	return current != old, nil
}
