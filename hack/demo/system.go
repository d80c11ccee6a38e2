package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/stack"
)

// demo is the running system. Its directory holds everything it writes:
//
//	cluster/       certificates and kubeconfigs of the control plane
//	git/           the Git server's root, with my-k8s-audit.git
//	bin/           the operator's binary
//	work/          the operator's --work-dir
//	operator.log   the operator's output
type demo struct {
	dir      string
	cluster  *stack.Stack
	server   *gitserver.SSHServer
	key      *gitserver.ClientKey
	repoDir  string
	repoURL  string
	operator *stack.Operator

	// stops undo what start did, in start order; stop runs them in reverse.
	stops []stopStep
}

type stopStep struct {
	done string // printed once the step succeeded
	fn   func(ctx context.Context) error
}

func (d *demo) onStop(done string, fn func(ctx context.Context) error) {
	d.stops = append(d.stops, stopStep{done: done, fn: fn})
}

func (d *demo) operatorLog() string { return filepath.Join(d.dir, "operator.log") }

// start brings up the control plane, the Git server and the operator. The operator is compiled
// while the control plane starts.
func (d *demo) start(ctx context.Context) error {
	heading("Starting a control plane, a Git server and the operator")
	buildCtx, cancelBuild := context.WithCancel(ctx)
	defer cancelBuild()
	var bin string
	var buildErr error
	built := make(chan struct{})
	go func() {
		defer close(built)
		bin, buildErr = stack.BuildOperator(buildCtx, mkdir(d.dir, "bin"), false)
	}()

	err := d.startCluster(ctx)
	if err == nil {
		err = d.startGitServer(ctx)
	}
	if err != nil {
		cancelBuild()
		<-built
		return err
	}
	<-built
	if buildErr != nil {
		return buildErr
	}
	return d.startOperator(bin)
}

func (d *demo) startCluster(ctx context.Context) error {
	cluster, err := stack.Start(ctx, stack.Options{Dir: filepath.Join(d.dir, "cluster")})
	if err != nil {
		return err
	}
	d.cluster = cluster
	d.onStop("stopped kube-apiserver and etcd", func(context.Context) error { return cluster.Stop() })
	item("control plane", cluster.Env.Config.Host+" (kube-apiserver and etcd)")
	return nil
}

func (d *demo) startGitServer(ctx context.Context) error {
	key, err := gitserver.NewClientKey()
	if err != nil {
		return err
	}
	root := mkdir(d.dir, "git")
	server, err := gitserver.NewSSHServer(root, key.PublicKey)
	if err != nil {
		return err
	}
	d.onStop("stopped the Git server", func(context.Context) error { return server.Close() })
	d.server, d.key = server, key
	if d.repoDir, err = gitserver.InitBareRepo(ctx, root, repoName); err != nil {
		return err
	}
	d.repoURL = server.URL(repoName)
	item("Git server", d.repoURL+" (SSH, a deploy key)")
	return nil
}

func (d *demo) startOperator(bin string) error {
	args := append(d.cluster.OperatorArgs("both"),
		"--work-dir", mkdir(d.dir, "work"), "--cluster-name", "demo")
	op, err := stack.StartOperator(bin, d.cluster.Kubeconfig, d.operatorLog(), args...)
	if err != nil {
		return err
	}
	d.operator = op
	d.onStop("stopped the operator", d.stopOperator)
	item("operator", fmt.Sprintf("pid %d, authors from the admission and the audit webhook", op.Pid()))
	return nil
}

// stopOperator stops the operator. Ctrl-C in a terminal signals the whole foreground process
// group, the operator included, which then shuts down by itself; a second signal would make
// controller-runtime exit at once with status 1, so it gets time to finish first.
func (d *demo) stopOperator(ctx context.Context) error {
	if byCtrlC(ctx) {
		select {
		case <-d.operator.Done():
		case <-time.After(10 * time.Second):
		}
	}
	return d.operator.Stop(20 * time.Second)
}

// byCtrlC reports whether ctx was cancelled by SIGINT (see signal.NotifyContext's cause).
func byCtrlC(ctx context.Context) bool {
	return ctx.Err() != nil && strings.HasPrefix(context.Cause(ctx).Error(), os.Interrupt.String()+" ")
}

// stop undoes start in reverse order, one line per step, and removes the directory unless keep.
func (d *demo) stop(ctx context.Context, keep bool) {
	heading("Stopping")
	for i := len(d.stops) - 1; i >= 0; i-- {
		began := time.Now()
		if err := d.stops[i].fn(ctx); err != nil {
			item("error", err.Error())
			continue
		}
		fmt.Printf("  %s (%s)\n", d.stops[i].done, time.Since(began).Round(100*time.Millisecond))
	}
	if keep {
		fmt.Println("  kept " + d.dir)
		return
	}
	if err := os.RemoveAll(d.dir); err != nil {
		item("error", err.Error())
		return
	}
	fmt.Println("  removed " + d.dir)
}

// printLogTail prints the last n lines of the operator's log to stderr.
func (d *demo) printLogTail(n int) {
	fmt.Fprintf(os.Stderr, "last lines of %s:\n%s\n", d.operatorLog(), strings.Join(stack.LogTail(d.operatorLog(), n), "\n"))
}

// mkdir creates dir/name (errors surface when it is used) and returns its path.
func mkdir(dir, name string) string {
	path := filepath.Join(dir, name)
	_ = os.MkdirAll(path, 0o700)
	return path
}
