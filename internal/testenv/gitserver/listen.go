package gitserver

import (
	"context"
	"fmt"
	"net"
	"strings"
)

// listenLoopback listens on addr, or on a free 127.0.0.1 port when addr is
// empty. Restarting a server passes its previous address so the URLs handed
// out before an outage keep working afterwards; Go sets SO_REUSEADDR, so
// connections lingering in TIME_WAIT do not block the rebind.
func listenLoopback(ctx context.Context, addr string) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return ln, nil
}

// urlPath turns a repository name into the path segment of a clone URL, using
// the same ".git" convention as [InitBareRepo].
func urlPath(repo string) string {
	repo = strings.Trim(repo, "/")
	if !strings.HasSuffix(repo, ".git") {
		repo += ".git"
	}
	return repo
}
