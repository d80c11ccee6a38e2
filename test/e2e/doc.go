// Package e2e runs the operator's real binary against a real API server and a real Git server
// over SSH, the way a platform team uses it: the seed's quick start applied with kubectl,
// changes made as named users, commits checked on the remote with the git CLI.
package e2e
