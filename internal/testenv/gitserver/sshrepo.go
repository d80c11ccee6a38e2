package gitserver

import "testing"

// SSHRepo is a bare repository behind a running SSH server, with a client key the server
// accepts: the remote most tests need.
type SSHRepo struct {
	Server *SSHServer
	Key    *ClientKey
	Dir    string // the bare repository on disk
	URL    string
}

// NewSSHRepo starts an SSH server in a temporary root, creates the bare repository name in it,
// and authorizes a fresh client key. Everything is cleaned up when the test ends.
func NewSSHRepo(t testing.TB, name string) *SSHRepo {
	t.Helper()
	root := t.TempDir()
	key, err := NewClientKey()
	if err != nil {
		t.Fatal(err)
	}
	server := StartSSHServer(t, root, key.PublicKey)
	return &SSHRepo{Server: server, Key: key, Dir: NewBareRepo(t, root, name), URL: server.URL(name)}
}
