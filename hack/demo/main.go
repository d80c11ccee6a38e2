// Command demo runs gitops-reverser end to end on this machine with nothing but Go and git: a
// local control plane (kube-apiserver and etcd, with both attribution webhooks wired), a Git
// server over SSH with one bare repository, and the operator's real binary. It applies the
// README's quick start, creates and changes ConfigMaps as two users, prints the attributed Git
// history, then pushes a ConfigMap to Git and shows it applied, put back after an edit and pruned
// when its file goes, and keeps running for exploring until Ctrl-C, when it stops everything in reverse
// order. `make demo` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// What the quick start writes where.
const (
	namespace = "default"
	branch    = "test-gitops-reverser"
	folder    = "live-cluster"
	repoName  = "my-k8s-audit"
	target    = "to-folder-live-cluster"
)

func main() {
	keep := flag.Bool("keep", false, "keep the demo's directory (kubeconfigs, Git repository, operator log) after it stops")
	flag.Parse()
	// Ctrl-C on `make demo | tee log` ends tee with the rest of the terminal's process group, and
	// the demo's next line of output meets a closed pipe: unhandled, SIGPIPE kills a Go program
	// writing to stdout, half-way through stopping the control plane. Handled, the write fails
	// quietly and the clean-up goes on. A closed terminal (SIGHUP) stops the demo as Ctrl-C does.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := run(ctx, *keep)
	stop()
	os.Exit(code)
}

// run starts the system, plays the scenario, waits for a signal and stops everything. It returns
// the process's exit code.
func run(ctx context.Context, keep bool) int {
	dir, err := os.MkdirTemp("", "gitops-reverser-demo-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	d := &demo{dir: dir}
	err = d.start(ctx)
	if err == nil {
		err = d.play(ctx)
	}
	if err == nil {
		d.explain()
		select {
		case <-ctx.Done():
		case <-d.operator.Done():
			err = fmt.Errorf("the operator exited; see %s", d.operatorLog())
		}
	}
	failed := err != nil && ctx.Err() == nil
	switch {
	case failed:
		fmt.Fprintln(os.Stderr, "\ndemo:", err)
		d.printLogTail(25)
		keep = true // what went wrong stays for reading
	case ctx.Err() != nil:
		fmt.Println()
	}
	d.stop(ctx, keep)
	if failed {
		return 1
	}
	return 0
}
