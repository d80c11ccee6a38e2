package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// TestCtrlCOnTheDemoPipedIntoTeeCleansUp is `make demo | tee log`, then Ctrl-C: the terminal
// interrupts its whole foreground process group, so tee ends with the demo, the control plane
// and the operator, and the demo's next line of output meets a closed pipe. It must still stop
// everything it started and remove its directory, as it does without the pipe.
func TestCtrlCOnTheDemoPipedIntoTeeCleansUp(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run through make test, which builds the control plane")
	}
	g := NewWithT(t)
	bin := filepath.Join(t.TempDir(), "demo")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the demo: %v\n%s", err, out)
	}
	r, w, err := os.Pipe()
	g.Expect(err).NotTo(HaveOccurred())
	demo := exec.Command(bin)
	demo.Stdout, demo.Stderr = w, w
	// Its own process group, which stands for the terminal's foreground group.
	demo.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	g.Expect(demo.Start()).To(Succeed())
	_ = w.Close()
	exited := make(chan error, 1)
	go func() { exited <- demo.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-demo.Process.Pid, syscall.SIGKILL)
	})

	// Read as tee would, until the demo waits for Ctrl-C.
	var dir string
	var mu sync.Mutex
	var seen []string
	output := func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(seen, "\n")
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			seen = append(seen, line)
			mu.Unlock()
			if k, ok := strings.CutPrefix(strings.TrimSpace(line), "export KUBECONFIG="); ok {
				dir = strings.Trim(k, "'")
			}
			if line == "Press Ctrl-C to stop." {
				close(ready)
				return
			}
		}
	}()
	select {
	case <-ready:
	case err := <-exited:
		t.Fatalf("the demo exited before it was ready (%v):\n%s", err, output())
	case <-time.After(5 * time.Minute):
		t.Fatalf("the demo was not ready in 5 minutes:\n%s", output())
	}
	g.Expect(dir).NotTo(BeEmpty(), "the demo printed its kubeconfig")
	for filepath.Dir(dir) != os.TempDir() && filepath.Dir(dir) != "/" {
		dir = filepath.Dir(dir) // the demo's directory is the one in the temporary directory
	}
	g.Expect(filepath.Base(dir)).To(HavePrefix("gitops-reverser-demo-"))

	started := descendants(demo.Process.Pid)
	g.Expect(len(started)).To(BeNumerically(">=", 3), "the control plane and the operator run under the demo")
	t.Cleanup(func() {
		for _, pid := range started {
			_ = syscall.Kill(pid, syscall.SIGKILL) // what a failed demo left
		}
	})

	_ = r.Close() // tee is gone
	g.Expect(syscall.Kill(-demo.Process.Pid, syscall.SIGINT)).To(Succeed())
	select {
	case err := <-exited:
		g.Expect(err).NotTo(HaveOccurred(), "the demo's exit")
	case <-time.After(2 * time.Minute):
		t.Fatal("the demo did not stop within 2 minutes of Ctrl-C")
	}
	g.Eventually(func() []int {
		var alive []int
		for _, pid := range started {
			if running(pid) {
				alive = append(alive, pid)
			}
		}
		return alive
	}).WithTimeout(30*time.Second).Should(BeEmpty(), "processes the demo started outlived it")
	_, err = os.Stat(dir)
	g.Expect(errors.Is(err, os.ErrNotExist)).To(BeTrue(), "the demo's directory %s was removed: %v", dir, err)
}

// descendants lists the processes below pid (envtest starts the control plane in process groups
// of its own, so the demo's group does not hold them).
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) < 2 {
			continue
		}
		if parent, err := strconv.Atoi(fields[1]); err == nil {
			children[parent] = append(children[parent], child)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// running says whether pid is a process that has not exited (a zombie has).
func running(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}
