// Package gitserver owns the real Git servers used by the test suites and by
// `make demo`.
//
// The operator pushes cluster changes to Git over SSH and HTTPS, so its tests
// must talk to the same protocols a production remote speaks, not to mocks.
// Everything here runs in-process on 127.0.0.1 and delegates the Git protocol
// itself to the real binaries found under `git --exec-path`:
//
//   - [SSHServer] is an SSH daemon (golang.org/x/crypto/ssh) with public-key
//     authentication that executes git-upload-pack / git-receive-pack.
//   - [HTTPSServer] is a TLS server with its own CA and HTTP basic (or bearer
//     token) authentication in front of git-http-backend via CGI.
//   - [InitBareRepo] / [NewBareRepo] create the bare repositories both servers
//     serve from a shared root directory, and [Git], [Log], [Refs] and [Fsck]
//     let tests assert on the remote with the git CLI.
//
// Both servers can be stopped and started again on the same address, so a test
// can simulate a remote outage without the URL a controller holds going stale.
// Nothing needs network access, Docker or a system-wide Git configuration:
// every git process gets a hermetic environment (see [Env]).
package gitserver
