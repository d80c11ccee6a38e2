package stack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/controlplane"
)

// BuildOperator compiles cmd/gitops-reverser into dir and returns the binary's path; with race,
// the race detector is compiled in, so end-to-end tests find races in the real binary too.
// Without, it is built as the image builds it (Dockerfile): static, stripped. The difference
// shows in memory: with cgo, kustomize's import of `plugin` (through fluxcd/pkg/ssa and
// cli-runtime) makes the linker export every symbol, 17 MB of dynamic symbol tables, and the
// binary's resident pages grow with it.
func BuildOperator(ctx context.Context, dir string, race bool) (string, error) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "gitops-reverser")
	args := []string{"build", "-o", bin}
	env := os.Environ()
	if race {
		args = append(args, "-race")
	} else {
		args = append(args, "-trimpath", "-ldflags=-s -w")
		env = append(env, "CGO_ENABLED=0")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./cmd/gitops-reverser")...)
	cmd.Dir = root
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the operator: %w\n%s", err, out)
	}
	return bin, nil
}

// WithOperator is the body of a TestMain that runs the operator's binary: it builds it once into
// a temporary directory (within 15 minutes: a cold build cache), calls run with its path and
// removes it again. It returns the exit code for os.Exit.
func WithOperator(race bool, run func(binary string) int) int {
	dir, err := os.MkdirTemp("", "gitops-reverser-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	binary, err := BuildOperator(ctx, dir, race)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return run(binary)
}

// Operator is the operator's binary running as a process.
type Operator struct {
	// Log is the file its output goes to.
	Log    string
	cmd    *exec.Cmd
	done   chan struct{}
	err    error
	killed bool
}

// StartOperator runs binary with args against the cluster of kubeconfig, its output appended to
// logPath.
func StartOperator(binary, kubeconfig, logPath string, args ...string) (*Operator, error) {
	return StartOperatorIn("", nil, binary, kubeconfig, logPath, args...)
}

// StartOperatorIn is StartOperator in working directory dir (empty: the test's) with env added to
// the environment, as a person would run the binary from a folder of theirs.
func StartOperatorIn(dir string, env []string, binary, kubeconfig, logPath string, args ...string) (*Operator, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the operator's log: %w", err)
	}
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+kubeconfig), env...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting the operator: %w", err)
	}
	o := &Operator{Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		o.err = cmd.Wait()
		log.Close()
		close(o.done)
	}()
	return o, nil
}

// Pid is the operator's process id.
func (o *Operator) Pid() int { return o.cmd.Process.Pid }

// Done is closed when the process exited.
func (o *Operator) Done() <-chan struct{} { return o.done }

// Stop asks the operator to stop (SIGTERM, as Kubernetes does) and waits for it; after timeout it
// is killed. It returns the process's error, if any; a process Kill ended has none.
func (o *Operator) Stop(timeout time.Duration) error {
	select {
	case <-o.done:
		if o.killed {
			return nil
		}
		return o.err
	default:
	}
	_ = o.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-o.done:
		return o.err
	case <-time.After(timeout):
		_ = o.cmd.Process.Kill()
		<-o.done
		return errors.New("the operator did not stop in time and was killed")
	}
}

// Kill kills the operator at once (SIGKILL, a crash) and waits until it is gone.
func (o *Operator) Kill() {
	o.killed = true
	_ = o.cmd.Process.Kill()
	<-o.done
}

// LogTail returns the last n lines of the operator's log.
func LogTail(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines[max(0, len(lines)-n):]
}
