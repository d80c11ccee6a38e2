// Command bench-git measures the Git writer against git fast-import on this machine, in one run:
// one-file commits per second on a repository of 10,000 files, and the time to push 1,000 pending
// commits against the git CLI pushing the same number over the same SSH server. `make bench-git`
// runs it; the last line is the summary recorded in docs/benchmarks.md.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

const (
	namespaces = 100
	perNS      = 100 // namespaces × perNS files in the repository
)

func main() {
	commits := flag.Int("commits", 20000, "one-file commits to make")
	pushCommits := flag.Int("push-commits", 1000, "pending commits to push in the push measurement")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	if err := run(context.Background(), *commits, *pushCommits); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "bench-git:", err)
		os.Exit(1)
	}
}

func filePath(ns, i int) string {
	return fmt.Sprintf("live/ns-%03d/configmaps/cm-%03d.yaml", ns, i)
}

func content(ns, i, version int) []byte {
	return fmt.Appendf(nil, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%03d\n  namespace: ns-%03d\ndata:\n  version: \"%d\"\n", i, ns, version)
}

// change is one commit of the stream: which file gets which version.
type change struct{ ns, i, version int }

func stream(n int) []change {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]change, n)
	for k := range out {
		out[k] = change{ns: rng.IntN(namespaces), i: rng.IntN(perNS), version: k + 1}
	}
	return out
}

var when = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// fastImportBase is the 10,000-file commit every measurement starts from.
func fastImportBase() []byte {
	var b bytes.Buffer
	b.WriteString("commit refs/heads/main\nmark :1\n")
	fmt.Fprintf(&b, "author bench <bench@example.com> %d +0000\ncommitter bench <bench@example.com> %d +0000\n", when.Unix(), when.Unix())
	b.WriteString("data 4\nbase\n")
	for ns := range namespaces {
		for i := range perNS {
			c := content(ns, i, 0)
			fmt.Fprintf(&b, "M 100644 inline %s\ndata %d\n%s\n", filePath(ns, i), len(c), c)
		}
	}
	return b.Bytes()
}

// fastImportStream is the same commits as the Writer makes, as a fast-import stream.
func fastImportStream(changes []change) []byte {
	var b bytes.Buffer
	for k, c := range changes {
		msg := fmt.Sprintf("[UPDATE] configmaps ns-%03d/cm-%03d\n\nKubernetes-User: alice\n", c.ns, c.i)
		ts := when.Unix() + int64(k)
		fmt.Fprintf(&b, "commit refs/heads/main\nauthor alice <alice@example.com> %d +0000\ncommitter gitops-reverser <op@example.com> %d +0000\n", ts, ts)
		fmt.Fprintf(&b, "data %d\n%s", len(msg), msg)
		if k == 0 {
			b.WriteString("from refs/heads/main^0\n")
		}
		body := content(c.ns, c.i, c.version)
		fmt.Fprintf(&b, "M 100644 inline %s\ndata %d\n%s\n", filePath(c.ns, c.i), len(body), body)
	}
	return b.Bytes()
}

func gitRun(ctx context.Context, dir string, stdin []byte, args ...string) error {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = gitserver.Env(dir)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("git %v: %w: %s", args, err, stderr.String())
	}
	return nil
}

func newBaseRepo(ctx context.Context, root, name string) (string, error) {
	dir, err := gitserver.InitBareRepo(ctx, root, name)
	if err != nil {
		return "", err
	}
	return dir, gitRun(ctx, dir, fastImportBase(), "fast-import", "--quiet")
}

func run(ctx context.Context, n, pushN int) error {
	root, err := os.MkdirTemp("", "bench-git-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	key, err := gitserver.NewClientKey()
	if err != nil {
		return err
	}
	server, err := gitserver.NewSSHServer(root, key.PublicKey)
	if err != nil {
		return err
	}
	defer server.Close()
	creds := gitwriter.Credentials{SSHPrivateKey: key.PrivateKeyPEM, KnownHosts: []byte(server.KnownHosts())}
	changes := stream(n)
	fmt.Printf("bench-git: %d one-file commits on a repository of %d files\n", n, namespaces*perNS)

	// Reference: git fast-import, the fastest way Git itself knows to make commits.
	refDir, err := newBaseRepo(ctx, root, "reference")
	if err != nil {
		return err
	}
	input := fastImportStream(changes)
	start := time.Now()
	if err := gitRun(ctx, refDir, input, "fast-import", "--quiet"); err != nil {
		return err
	}
	fastImport := time.Since(start)
	fmt.Printf("bench-git: git fast-import: %d commits in %s\n", n, fastImport.Round(time.Millisecond))

	// The Writer: the same commits through Commit, with pushes held back so only commits count.
	if _, err := newBaseRepo(ctx, root, "writer"); err != nil {
		return err
	}
	w, stop, err := startWriter(ctx, root, server.URL("writer"), creds)
	if err != nil {
		return err
	}
	start = time.Now()
	for k, c := range changes {
		if err := commit(ctx, w, k, c); err != nil {
			stop()
			return err
		}
	}
	writer := time.Since(start)
	stop()
	fmt.Printf("bench-git: gitwriter:       %d commits in %s\n", n, writer.Round(time.Millisecond))

	pushWriter, pushCLI, err := measurePush(ctx, root, server, creds, refDir, changes[:pushN], key.PrivateKeyPEM)
	if err != nil {
		return err
	}
	fmt.Printf("bench-git: push of %d pending commits: gitwriter %s, git CLI %s\n", pushN,
		pushWriter.Round(time.Millisecond), pushCLI.Round(time.Millisecond))

	ours := float64(n) / writer.Seconds()
	ref := float64(n) / fastImport.Seconds()
	fmt.Printf("bench-git: commits_per_s=%.0f fastimport_commits_per_s=%.0f ratio=%.2f\n", ours, ref, ours/ref)
	return nil
}

func startWriter(ctx context.Context, root, url string, creds gitwriter.Credentials) (*gitwriter.Writer, func(), error) {
	w, err := gitwriter.New(gitwriter.Config{
		URL: url, Branch: "main", Credentials: creds,
		WorkDir:   filepath.Join(root, "work-"+filepath.Base(url)),
		Committer: gitwriter.Signature{Name: "gitops-reverser", Email: "op@example.com"},
		Push:      gitwriter.PushPolicy{Interval: 24 * time.Hour, MaxCommits: 1 << 30},
	})
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	deadline := time.Now().Add(time.Minute)
	for w.Status().Reason != "Connected" {
		if time.Now().After(deadline) {
			cancel()
			return nil, nil, fmt.Errorf("writer did not connect: %s", w.Status().Message)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return w, func() { cancel(); <-done }, nil
}

func commit(ctx context.Context, w *gitwriter.Writer, k int, c change) error {
	_, err := w.Commit(ctx, gitwriter.Change{
		Ops:     []gitwriter.FileOp{{Path: filePath(c.ns, c.i), Data: content(c.ns, c.i, c.version)}},
		Author:  gitwriter.Signature{Name: "alice", Email: "alice@example.com", When: when.Add(time.Duration(k) * time.Second)},
		Message: fmt.Sprintf("[UPDATE] configmaps ns-%03d/cm-%03d\n\nKubernetes-User: alice\n", c.ns, c.i),
	})
	return err
}

// measurePush times a Flush of len(changes) pending commits, and the git CLI pushing the same
// number of commits (made by fast-import) over the same SSH server.
func measurePush(ctx context.Context, root string, server *gitserver.SSHServer, creds gitwriter.Credentials,
	refDir string, changes []change, privateKey []byte) (time.Duration, time.Duration, error) {
	if _, err := newBaseRepo(ctx, root, "push-writer"); err != nil {
		return 0, 0, err
	}
	w, stop, err := startWriter(ctx, root, server.URL("push-writer"), creds)
	if err != nil {
		return 0, 0, err
	}
	defer stop()
	for k, c := range changes {
		if err := commit(ctx, w, k, c); err != nil {
			return 0, 0, err
		}
	}
	start := time.Now()
	if err := w.Flush(ctx); err != nil {
		return 0, 0, err
	}
	ours := time.Since(start)

	if _, err := newBaseRepo(ctx, root, "push-cli"); err != nil {
		return 0, 0, err
	}
	keyFile := filepath.Join(root, "id")
	hosts := filepath.Join(root, "known_hosts")
	if err := os.WriteFile(keyFile, privateKey, 0o600); err != nil {
		return 0, 0, err
	}
	if err := os.WriteFile(hosts, creds.KnownHosts, 0o600); err != nil {
		return 0, 0, err
	}
	// The reference repository holds the base and then every commit of the stream: push the
	// one that has exactly len(changes) commits on top of the base.
	sshCmd := fmt.Sprintf("ssh -F /dev/null -i %s -o IdentitiesOnly=yes -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes", keyFile, hosts)
	rev := fmt.Sprintf("main~%d", countCommits(ctx, refDir)-1-len(changes))
	start = time.Now()
	if err := gitRun(ctx, refDir, nil, "-c", "core.sshCommand="+sshCmd, "push", "--quiet", server.URL("push-cli"), rev+":refs/heads/main"); err != nil {
		return 0, 0, err
	}
	return ours, time.Since(start), nil
}

func countCommits(ctx context.Context, dir string) int {
	cmd := exec.CommandContext(ctx, "git", "rev-list", "--count", "main")
	cmd.Dir = dir
	cmd.Env = gitserver.Env(dir)
	out, err := cmd.Output()
	if err != nil {
		return 0
	}
	var n int
	fmt.Sscan(string(out), &n)
	return n
}
