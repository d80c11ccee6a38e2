// Command bench-e2e measures the operator end to end, as DESIGN.md §9 names the figures: the
// latency from an API write to its commit on the remote at 100 writes/s (next to the API
// server's own write latency), the initial snapshot of 10,000 ConfigMaps (next to `kubectl get -o
// yaml` of the same objects), the operator's memory while it watches them, and the time to
// converge again after a kill -9. It runs the operator's binary against a real API server and a
// real Git server over SSH, and ends with one line:
//
//	bench-e2e: p50_ms=<n> p99_ms=<n> snapshot_10k_s=<n> rss_10k_mib=<n> restart_10k_s=<n>
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

type config struct {
	objects int
	writes  int
	rate    int
	keep    bool
	pprof   string
	// attribution is the operator's --attribution.
	attribution string
}

func main() {
	var cfg config
	flag.IntVar(&cfg.objects, "objects", 10_000, "ConfigMaps in the snapshot, the memory and the restart figures.")
	flag.IntVar(&cfg.writes, "writes", 1_000, "Writes in the latency figure.")
	flag.IntVar(&cfg.rate, "rate", 100, "Writes per second in the latency figure.")
	flag.StringVar(&cfg.attribution, "attribution", "admission", "The operator's --attribution (none: what make run uses).")
	flag.BoolVar(&cfg.keep, "keep", false, "Keep the working directory (operator log, repositories).")
	flag.StringVar(&cfg.pprof, "pprof", "", "Serve the operator's pprof endpoints at this address (say 127.0.0.1:6060) and save a heap profile after the snapshot.")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench-e2e:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) error {
	dir, err := os.MkdirTemp("", "bench-e2e-")
	if err != nil {
		return err
	}
	b := &bench{cfg: cfg, dir: dir}
	defer func() {
		b.stop()
		if cfg.keep {
			fmt.Println("kept", dir)
		} else {
			_ = os.RemoveAll(dir)
		}
	}()
	if err := b.start(ctx); err != nil {
		return err
	}
	snapshot, reference, err := b.snapshot(ctx)
	if err != nil {
		return b.explain(err)
	}
	fmt.Printf("snapshot: %d ConfigMaps to their first pushed commit in %.2fs (kubectl get -o yaml of them: %.2fs)\n",
		cfg.objects, snapshot.Seconds(), reference.Seconds())
	rss, peak, err := b.memory()
	if err != nil {
		return b.explain(err)
	}
	fmt.Printf("memory: RSS %.0f MiB while watching %d ConfigMaps (peak %.0f MiB)\n", rss, cfg.objects+cfg.writes, peak)
	lat, err := b.latency(ctx, latencyNamespace, "latency")
	if err != nil {
		return b.explain(err)
	}
	report := func(what string, l latencies) {
		fmt.Printf("latency, %s: %d writes at %d/s, write to commit on the remote p50 %.0fms p99 %.0fms max %.0fms; the API server's write p50 %.1fms p99 %.1fms\n",
			what, cfg.writes, cfg.rate, ms(l.e2e.p50), ms(l.e2e.p99), ms(l.e2e.max), ms(l.api.p50), ms(l.api.p99))
	}
	report(fmt.Sprintf("a folder of %d objects", cfg.writes), lat)
	floor, err := b.pushFloor(ctx, "latency-folder/"+latencyNamespace+"/configmaps")
	if err != nil {
		return b.explain(err)
	}
	fmt.Printf("push floor, a folder of %d objects: the git CLI pushing a one-file commit over the same SSH server, %d times: p50 %.0fms p99 %.0fms\n",
		cfg.writes, floorPushes, ms(floor.p50), ms(floor.p99))
	big, err := b.latency(ctx, namespace, "latency")
	if err != nil {
		return b.explain(err)
	}
	report(fmt.Sprintf("the folder of %d objects", cfg.objects), big)
	floorBig, err := b.pushFloor(ctx, folder)
	if err != nil {
		return b.explain(err)
	}
	fmt.Printf("push floor, the folder of %d objects: p50 %.0fms p99 %.0fms\n", cfg.objects, ms(floorBig.p50), ms(floorBig.p99))
	restart, err := b.restart(ctx)
	if err != nil {
		return b.explain(err)
	}
	fmt.Printf("restart: kill -9, %d changes while down, converged again with nothing lost in %.2fs\n", restartChanges, restart.Seconds())
	fmt.Printf("bench-e2e: attribution=%s rate=%d p50_ms=%.0f p99_ms=%.0f push_floor_ms=%.0f p50_10k_folder_ms=%.0f push_floor_10k_ms=%.0f snapshot_10k_s=%.2f kubectl_10k_s=%.2f rss_10k_mib=%.0f rss_peak_mib=%.0f restart_10k_s=%.2f\n",
		cfg.attribution, cfg.rate, ms(lat.e2e.p50), ms(lat.e2e.p99), ms(floor.p50), ms(big.e2e.p50), ms(floorBig.p50), snapshot.Seconds(), reference.Seconds(), rss, peak, restart.Seconds())
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// explain adds where the operator's log is to an error.
func (b *bench) explain(err error) error {
	b.cfg.keep = true
	return fmt.Errorf("%w (operator log: %s)", err, filepath.Join(b.dir, "operator.log"))
}
