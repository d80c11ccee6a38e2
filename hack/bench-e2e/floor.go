package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

const (
	// floorPushes is how many pushes a push floor is measured over.
	floorPushes = 50
	// batchCommits is how many commits a batch floor's pushes carry: about what one push of the
	// operator carries at 100 writes/s, one commit per change.
	batchCommits = 30
	// batchPushes is how many pushes a batch floor is measured over.
	batchPushes = 10
)

// pushFloor is the reference for the latency figures: what the Git server itself needs for one
// push. The git CLI (OpenSSH, a new connection per push, as git does) commits one file into dir
// of the same branch and pushes it, floorPushes times, in the same run and over the same SSH
// server as the operator. The file is not YAML, so the operator leaves it alone. With commits
// above 1 each push carries that many one-file commits: the server's cost per commit, which
// grows with the folder (receive-pack checks every new commit's tree), shows there.
func (b *bench) pushFloor(ctx context.Context, dir string, commits, pushes int) (percentiles, error) {
	home := b.Path("floor-home")
	ssh, err := gitserver.SSHCommandEnv(home, b.Key.PrivateKeyPEM, b.Server.KnownHosts())
	if err != nil {
		return percentiles{}, err
	}
	env := append(gitserver.Env(home), ssh...)
	work := filepath.Join(b.dir, fmt.Sprintf("floor-%d-%s", commits, strings.ReplaceAll(dir, "/", "-")))
	if _, err := gitserver.Run(ctx, b.dir, env, "clone", "--quiet", "--branch", branch, b.Server.URL("bench"), work); err != nil {
		return percentiles{}, err
	}
	file := filepath.Join(work, filepath.FromSlash(dir), "push-floor.txt")
	var took []time.Duration
	for i := range pushes {
		for j := range commits {
			if err := os.WriteFile(file, []byte(fmt.Sprintf("push %d commit %d\n", i, j)), 0o644); err != nil {
				return percentiles{}, err
			}
			if _, err := gitserver.Run(ctx, work, env, "commit", "--quiet", "--all", "-m", fmt.Sprintf("push floor %d.%d", i, j)); err != nil {
				if _, err := gitserver.Run(ctx, work, env, "add", "--all"); err != nil {
					return percentiles{}, err
				}
				if _, err := gitserver.Run(ctx, work, env, "commit", "--quiet", "-m", fmt.Sprintf("push floor %d.%d", i, j)); err != nil {
					return percentiles{}, err
				}
			}
		}
		for attempt := 0; ; attempt++ {
			start := time.Now()
			_, err := gitserver.Run(ctx, work, env, "push", "--quiet", "origin", "HEAD:refs/heads/"+branch)
			if err == nil {
				took = append(took, time.Since(start))
				break
			}
			if attempt == 5 {
				return percentiles{}, err
			}
			// The operator pushed meanwhile: take its commits, and time the next push.
			if _, err := gitserver.Run(ctx, work, env, "pull", "--quiet", "--rebase", "origin", branch); err != nil {
				return percentiles{}, err
			}
		}
	}
	return summarize(took), nil
}
