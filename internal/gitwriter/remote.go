package gitwriter

import (
	"context"
	"errors"
	"fmt"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Remote moves objects between a Writer's store and the repository. It is an interface because
// the transport is the part most likely to be swapped (go-git's push of very large packs is
// slower than the git CLI's).
type Remote interface {
	// Fetch brings the tip of branch into the store, with depth commits of its history (at least
	// the tip). When the branch does not exist it fetches the default branch instead and says so
	// with exists=false; an empty repository gives the zero hash.
	Fetch(ctx context.Context, branch string, depth int) (tip plumbing.Hash, exists bool, err error)
	// Push moves branch from old (zero: the branch must not exist) to new, sending pack, which
	// holds every object new needs that old does not have. It fails with ErrStale when the
	// branch is not at old, and with ErrRejected when the remote refuses for another reason.
	Push(ctx context.Context, branch string, old, new plumbing.Hash, pack []byte) error
	// Check connects and authenticates without changing anything, and lists the branches.
	Check(ctx context.Context) ([]string, error)
}

type goGitRemote struct {
	endpoint *remoteEndpoint
	store    *objectStore
	// ssh, for SSH URLs, is the connection pushes share (see sshconn.go).
	ssh *sshConn
	// http, for HTTP(S) URLs, is a client of this remote's own whose connections stay open
	// between pushes (go-git's default makes a transport per session when there is a CA
	// bundle, and so a TLS handshake per push).
	http transport.Transport
}

// newGoGitRemote builds the remote for ep. Close releases what it keeps open.
func newGoGitRemote(ep *remoteEndpoint, store *objectStore) (*goGitRemote, error) {
	r := &goGitRemote{endpoint: ep, store: store}
	var err error
	switch ep.ep.Protocol {
	case "ssh":
		r.ssh, err = newSSHConn(ep.ep, ep.auth)
	case "http", "https":
		r.http, err = keepAliveHTTP(ep.ep.CaBundle)
	}
	if err != nil {
		return nil, fmt.Errorf("preparing the remote %s: %w", ep.url, err)
	}
	return r, nil
}

// Close closes the connection kept for pushes; a push under way fails.
func (r *goGitRemote) Close() error {
	if r.ssh != nil {
		return r.ssh.Close()
	}
	return nil
}

var _ Remote = (*goGitRemote)(nil)

func (r *goGitRemote) list(ctx context.Context) ([]*plumbing.Reference, error) {
	return r.listWith(ctx, r.store)
}

func (r *goGitRemote) listWith(ctx context.Context, s storage.Storer) ([]*plumbing.Reference, error) {
	rem := git.NewRemote(s, &config.RemoteConfig{Name: "origin", URLs: []string{r.endpoint.url}})
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: r.endpoint.auth, CABundle: r.endpoint.ep.CaBundle})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing the branches of %s: %w", r.endpoint.url, explainHostKey(err))
	}
	return refs, nil
}

func (r *goGitRemote) Check(ctx context.Context) ([]string, error) {
	return r.checkWith(ctx, r.store)
}

func (r *goGitRemote) checkWith(ctx context.Context, s storage.Storer) ([]string, error) {
	refs, err := r.listWith(ctx, s)
	if err != nil {
		return nil, err
	}
	var branches []string
	for _, ref := range refs {
		if ref.Name().IsBranch() {
			branches = append(branches, ref.Name().Short())
		}
	}
	return branches, nil
}

func (r *goGitRemote) Fetch(ctx context.Context, branch string, depth int) (plumbing.Hash, bool, error) {
	refs, err := r.list(ctx)
	if err != nil || len(refs) == 0 {
		return plumbing.ZeroHash, false, err
	}
	want := plumbing.NewBranchReferenceName(branch)
	byName := map[plumbing.ReferenceName]*plumbing.Reference{}
	for _, ref := range refs {
		byName[ref.Name()] = ref
	}
	src, exists := byName[want], true
	if src == nil {
		exists = false
		src = defaultBranch(byName)
		if src == nil {
			return plumbing.ZeroHash, false, nil
		}
	}
	rem := git.NewRemote(r.store, &config.RemoteConfig{Name: "origin", URLs: []string{r.endpoint.url}})
	tracking := plumbing.NewRemoteReferenceName("origin", src.Name().Short())
	spec := config.RefSpec(fmt.Sprintf("+%s:%s", src.Name(), tracking))
	err = rem.FetchContext(ctx, &git.FetchOptions{
		RefSpecs: []config.RefSpec{spec},
		Depth:    max(depth, 1),
		Auth:     r.endpoint.auth,
		CABundle: r.endpoint.ep.CaBundle,
		Tags:     git.NoTags,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return plumbing.ZeroHash, false, fmt.Errorf("fetching %s from %s: %w", src.Name().Short(), r.endpoint.url, err)
	}
	// The branch may have moved since it was listed: what counts is what the fetch brought.
	ref, err := r.store.Reference(tracking)
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("reading fetched %s: %w", tracking, err)
	}
	return ref.Hash(), exists, nil
}

// defaultBranch is the branch HEAD points at, or main or master when the server does not say.
func defaultBranch(refs map[plumbing.ReferenceName]*plumbing.Reference) *plumbing.Reference {
	if head := refs[plumbing.HEAD]; head != nil {
		if head.Type() == plumbing.SymbolicReference {
			if target := refs[head.Target()]; target != nil {
				return target
			}
		}
		for name, ref := range refs {
			if name.IsBranch() && ref.Hash() == head.Hash() {
				return ref
			}
		}
	}
	for _, name := range []string{"main", "master"} {
		if ref := refs[plumbing.NewBranchReferenceName(name)]; ref != nil {
			return ref
		}
	}
	return nil
}

func short(h plumbing.Hash) string {
	if h.IsZero() {
		return "nothing"
	}
	return h.String()[:12]
}

// fullHash is h in full; empty for no commit.
func fullHash(h plumbing.Hash) string {
	if h.IsZero() {
		return ""
	}
	return h.String()
}

// explainHostKey says in words what the SSH client's "knownhosts: key mismatch" means, since that
// message ends up in the GitProvider's status.
func explainHostKey(err error) error {
	var keyErr *knownhosts.KeyError
	if !errors.As(err, &keyErr) {
		return err
	}
	if len(keyErr.Want) == 0 {
		return fmt.Errorf("the server's SSH host key is not in known_hosts: %w", err)
	}
	return fmt.Errorf("the server's SSH host key does not match known_hosts: %w", err)
}
