package gitserver

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Env returns a hermetic environment for git processes with HOME set to home.
//
// The developer's or CI runner's configuration (credential helpers,
// GIT_SSL_CAINFO, url.insteadOf, signing, proxies, ...) would otherwise leak
// into tests and make them pass or fail for reasons unrelated to the code under
// test. LC_ALL=C keeps error messages stable enough to assert on, and
// GIT_TERMINAL_PROMPT=0 turns a missing credential into an error instead of a
// hung test.
func Env(home string) []string {
	return append(traceEnv(),
		"PATH="+os.Getenv("PATH"),
		"HOME="+home,
		"LC_ALL=C",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=gitserver",
		"GIT_AUTHOR_EMAIL=gitserver@example.invalid",
		"GIT_COMMITTER_NAME=gitserver",
		"GIT_COMMITTER_EMAIL=gitserver@example.invalid",
	)
}

// traceEnv passes GIT_TRACE* on, so that the server's git processes can be traced
// (GIT_TRACE2_PERF=/tmp/trace shows where receive-pack spends a push's time).
func traceEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GIT_TRACE") {
			out = append(out, kv)
		}
	}
	return out
}

// SSHCommandEnv makes the git CLI use exactly this key and known_hosts entry, written into
// dir, ignoring ~/.ssh, ssh-agent and any ssh_config of the machine. Add it to [Env].
func SSHCommandEnv(dir string, keyPEM []byte, knownHostsLine string) ([]string, error) {
	key, hosts := filepath.Join(dir, "id_ed25519"), filepath.Join(dir, "known_hosts")
	// 0600 because OpenSSH refuses private keys other users can read.
	if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", key, err)
	}
	if err := os.WriteFile(hosts, []byte(knownHostsLine+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", hosts, err)
	}
	opts := []string{
		"ssh", "-F", "/dev/null", "-i", key,
		"-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + hosts,
		"-o", "GlobalKnownHostsFile=/dev/null",
	}
	return []string{"GIT_SSH_COMMAND=" + strings.Join(opts, " "), "SSH_AUTH_SOCK="}, nil
}

// Run runs `git args...` in dir with exactly env (start from [Env]) and
// returns its stdout without surrounding whitespace. On failure the error
// carries git's stderr, which is where git explains what went wrong.
func Run(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return strings.TrimSpace(stdout.String()), fmt.Errorf("git %s: %w: %s",
			strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// Git runs `git args...` in dir with a hermetic environment and a fresh HOME,
// failing the test if git fails. It returns stdout without surrounding
// whitespace.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := Run(t.Context(), dir, Env(t.TempDir()), args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return out
}

// Commit is one entry of [Log].
type Commit struct {
	Hash    string
	Subject string
}

// Log returns the history reachable from ref in the repository at dir, newest
// first. It fails the test if ref does not exist.
func Log(t testing.TB, dir, ref string) []Commit {
	t.Helper()
	out := Git(t, dir, "log", "--format=%H %s", ref, "--")
	var commits []Commit
	for line := range strings.Lines(out) {
		hash, subject, _ := strings.Cut(strings.TrimRight(line, "\n"), " ")
		commits = append(commits, Commit{Hash: hash, Subject: subject})
	}
	return commits
}

// Refs returns every ref of the repository at dir mapped to the object it
// points at. Comparing two snapshots is how tests prove a rejected push left
// the remote untouched.
func Refs(t testing.TB, dir string) map[string]string {
	t.Helper()
	refs := map[string]string{}
	out := Git(t, dir, "for-each-ref", "--format=%(refname) %(objectname)")
	for line := range strings.Lines(out) {
		name, hash, _ := strings.Cut(strings.TrimRight(line, "\n"), " ")
		refs[name] = hash
	}
	return refs
}

// Fsck fails the test unless `git fsck --strict` finds the repository at dir
// consistent, catching pushes that were accepted but wrote broken objects.
func Fsck(t testing.TB, dir string) {
	t.Helper()
	Git(t, dir, "fsck", "--strict", "--no-progress")
}

// gitExecPath locates the directory holding git-upload-pack, git-receive-pack
// and git-http-backend, so the servers run the same Git as the CLI on PATH.
func gitExecPath(ctx context.Context) (string, error) {
	out, err := Run(ctx, "", Env(os.DevNull), "--exec-path")
	if err != nil {
		return "", fmt.Errorf("locating git exec path: %w", err)
	}
	for _, name := range []string{"git-upload-pack", "git-receive-pack", "git-http-backend"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			return "", fmt.Errorf("git exec path %s lacks %s: %w", out, name, err)
		}
	}
	return out, nil
}
