// Package memlimit owns the Go runtime's memory settings. The soft memory limit: without one the
// heap grows past what is live by GOGC before each collection, whatever the pod was given; with
// one the collector works harder as the heap nears it, so a burst is absorbed by collecting
// rather than by the kernel killing the pod; it comes from a flag, else from the container's
// cgroup limit. GOGC, which the operator sets lower than Go's default. And returning the peak of
// a large reconcile to the operating system at once.
package memlimit

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Auto is the flag value that takes the limit from the container.
const Auto = "auto"

// share of the container's limit the heap may use: the rest is for what the runtime does not
// count (stacks outside the heap, the binary, C libraries) and for the collector's lag.
const share = 0.9

// Limit is a decided limit: bytes (0: none) and where it came from, for the log.
type Limit struct {
	Bytes  int64
	Source string
}

// Decide reads what the flag asks: Auto (90% of the cgroup's memory limit; nothing when there is
// none, or when GOMEMLIMIT is set, which the runtime already applied), "none", or a quantity such
// as 100Mi. root is the filesystem root the cgroup files are read under ("/").
func Decide(flag, root string, env func(string) string) (Limit, error) {
	switch strings.TrimSpace(flag) {
	case "none", "0":
		return Limit{Source: "--memory-limit=none"}, nil
	case Auto, "":
		if v := env("GOMEMLIMIT"); v != "" {
			return Limit{Source: "GOMEMLIMIT=" + v}, nil
		}
		limit, file, err := cgroupLimit(root)
		if err != nil {
			return Limit{}, err
		}
		if limit == 0 {
			return Limit{Source: "no container memory limit"}, nil
		}
		return Limit{Bytes: int64(float64(limit) * share), Source: fmt.Sprintf("%.0f%% of %s (%d bytes)", share*100, file, limit)}, nil
	}
	q, err := resource.ParseQuantity(flag)
	if err != nil {
		return Limit{}, fmt.Errorf("--memory-limit %q: not auto, none or a quantity such as 100Mi: %w", flag, err)
	}
	if q.Value() <= 0 {
		return Limit{}, fmt.Errorf("--memory-limit %q: must be positive", flag)
	}
	return Limit{Bytes: q.Value(), Source: "--memory-limit=" + flag}, nil
}

// Apply sets the runtime's soft limit when there is one.
func (l Limit) Apply() {
	if l.Bytes > 0 {
		debug.SetMemoryLimit(l.Bytes)
	}
}

// cgroupLimit is the memory limit of the cgroup this process runs in (0: unlimited), and the
// file it was read from. It tries cgroup v2 first, then v1.
func cgroupLimit(root string) (int64, string, error) {
	var candidates []string
	if data, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup")); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, "0::"); ok {
				candidates = append(candidates, filepath.Join(root, "sys/fs/cgroup", rest, "memory.max"))
			}
		}
	}
	candidates = append(candidates,
		filepath.Join(root, "sys/fs/cgroup/memory.max"),
		filepath.Join(root, "sys/fs/cgroup/memory/memory.limit_in_bytes"))
	for _, file := range candidates {
		data, err := os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, "", fmt.Errorf("reading the container's memory limit: %w", err)
		}
		v := strings.TrimSpace(string(data))
		if v == "max" {
			return 0, file, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, "", fmt.Errorf("reading the container's memory limit from %s: %q is not a number", file, v)
		}
		// cgroup v1 says "unlimited" with the largest page-aligned int64.
		if n <= 0 || n >= math.MaxInt64/2 {
			return 0, file, nil
		}
		return n, file, nil
	}
	return 0, "", nil
}

// DefaultGCPercent is the operator's GOGC. Go's default, 100, lets the heap grow to twice what
// is live before each collection; most of an operator's heap is its watch caches, so half of
// that headroom is memory held for nothing. Collecting at 1.5 times costs a collection twice
// as often, a few percent of a core under bursts of writes and nothing when idle.
const DefaultGCPercent = 50

// SetGCPercent applies percent unless GOGC is set in the environment, which the runtime already
// applied. It returns what is in force, for the log.
func SetGCPercent(percent int, env func(string) string) string {
	if v := env("GOGC"); v != "" {
		return "GOGC=" + v
	}
	debug.SetGCPercent(percent)
	return strconv.Itoa(percent)
}

// bigRender is how many objects a reconcile renders before its garbage is worth returning at
// once.
const bigRender = 5000

// AfterRender returns a one-off peak to the operating system at once when a reconcile rendered
// many objects: the scavenger would release it over minutes, and until then the pod holds memory
// it no longer uses. It costs one collection, small next to the render.
func AfterRender(objects int) {
	if objects >= bigRender {
		debug.FreeOSMemory()
	}
}
