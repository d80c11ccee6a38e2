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

// floorPushes is how many pushes a push floor is measured over.
const floorPushes = 50

// pushFloor is the reference for the latency figures: what the Git server itself needs for one
// push. The git CLI (OpenSSH, a new connection per push, as git does) commits one file into dir
// of the same branch and pushes it, floorPushes times, in the same run and over the same SSH
// server as the operator. The file is not YAML, so the operator leaves it alone.
func (b *bench) pushFloor(ctx context.Context, dir string) (percentiles, error) {
	home := b.path("floor-home")
	ssh, err := gitserver.SSHCommandEnv(home, b.key.PrivateKeyPEM, b.server.KnownHosts())
	if err != nil {
		return percentiles{}, err
	}
	env := append(gitserver.Env(home), ssh...)
	work := filepath.Join(b.dir, "floor-"+strings.ReplaceAll(dir, "/", "-"))
	if _, err := gitserver.Run(ctx, b.dir, env, "clone", "--quiet", "--branch", branch, b.server.URL("bench"), work); err != nil {
		return percentiles{}, err
	}
	file := filepath.Join(work, filepath.FromSlash(dir), "push-floor.txt")
	var took []time.Duration
	for i := range floorPushes {
		if err := os.WriteFile(file, []byte(fmt.Sprintf("push %d\n", i)), 0o644); err != nil {
			return percentiles{}, err
		}
		if _, err := gitserver.Run(ctx, work, env, "add", "--all"); err != nil {
			return percentiles{}, err
		}
		if _, err := gitserver.Run(ctx, work, env, "commit", "--quiet", "-m", fmt.Sprintf("push floor %d", i)); err != nil {
			return percentiles{}, err
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
