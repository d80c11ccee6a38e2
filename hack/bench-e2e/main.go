// Command bench-e2e measures the operator end to end, as DESIGN.md §9 names the figures: the
// latency from an API write to its commit on the remote at 100 writes/s (next to the API
// server's own write latency), the initial snapshot of 10,000 ConfigMaps (next to `kubectl get -o
// yaml` of the same objects), the operator's memory while it watches them, and the time to
// converge again after a kill -9, then the snapshot, memory and latency with 100,000 ConfigMaps.
// Beside each figure it measures its reference in the same run: the git CLI pushing to the same
// SSH server (the push floor), kubectl printing the same objects. It runs the operator's binary
// against a real API server and a real Git server over SSH, and ends with one line:
//
//	bench-e2e: attribution=<a> rate=<n> p50_ms=<n> p99_ms=<n> push_floor_ms=<n> p50_10k_folder_ms=<n>
//	  push_floor_10k_ms=<n> push30_floor_10k_ms=<n> snapshot_10k_s=<n> kubectl_10k_s=<n> rss_10k_mib=<n> rss_peak_mib=<n>
//	  restart_10k_s=<n> snapshot_100k_s=<n> kubectl_100k_s=<n> rss_100k_mib=<n> p50_100k_folder_ms=<n> push_floor_100k_ms=<n>
//	  remote_p50_ms=<n> remote_p99_ms=<n> remote_rss_mib=<n> remote_attributed=<n>
//
// The remote figures are the latency figure again on a second control plane that a GitTarget
// names through its kubeConfig, with authors from that cluster's audit webhook.
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

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

type config struct {
	objects int
	large   int
	writes  int
	rate    int
	keep    bool
	// remote measures the latency figure again on a second cluster, through a kubeconfig.
	remote bool
	pprof  string
	// attribution is the operator's --attribution.
	attribution string
	// memoryLimit is the operator's --memory-limit (empty: its default).
	memoryLimit string
}

func main() {
	var cfg config
	flag.IntVar(&cfg.objects, "objects", 10_000, "ConfigMaps in the snapshot, the memory and the restart figures.")
	flag.IntVar(&cfg.large, "large", 100_000, "ConfigMaps in the scale figures (snapshot, RSS, latency after), in a namespace of their own; 0 leaves them out.")
	flag.IntVar(&cfg.writes, "writes", 1_000, "Writes in the latency figure.")
	flag.IntVar(&cfg.rate, "rate", 100, "Writes per second in the latency figure.")
	flag.StringVar(&cfg.attribution, "attribution", "admission", "The operator's --attribution (none: what make run uses).")
	flag.StringVar(&cfg.memoryLimit, "memory-limit", "", "The operator's --memory-limit (empty: its default, auto, which is no limit outside a container).")
	flag.BoolVar(&cfg.remote, "remote", true, "Measure the latency figure again on a second control plane, captured through a GitTarget's kubeConfig.")
	flag.BoolVar(&cfg.keep, "keep", false, "Keep the working directory (operator log, repositories).")
	flag.StringVar(&cfg.pprof, "pprof", "", "Serve the operator's pprof endpoints at this address (say 127.0.0.1:6060) and save a heap profile after the snapshot.")
	flag.Parse()
	ctrllog.SetLogger(logr.Discard()) // envtest's own log lines are not the bench's
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
	rss, err := b.memory("heap.pprof")
	if err != nil {
		return b.explain(err)
	}
	snapshotPeak, err := b.status("VmHWM")
	if err != nil {
		return b.explain(err)
	}
	fmt.Printf("memory: RSS %.0f MiB while watching %d ConfigMaps (peak %.0f MiB through the start and the snapshot)\n", rss, cfg.objects+cfg.writes, snapshotPeak)
	lat, err := b.latency(ctx, latencyNamespace, "latency")
	if err != nil {
		return b.explain(err)
	}
	report := func(what string, l latencies) {
		fmt.Printf("latency, %s: %d writes at %d/s, write to commit on the remote p50 %.0fms p99 %.0fms max %.0fms; the API server's write p50 %.1fms p99 %.1fms\n",
			what, cfg.writes, cfg.rate, ms(l.e2e.p50), ms(l.e2e.p99), ms(l.e2e.max), ms(l.api.p50), ms(l.api.p99))
	}
	report(fmt.Sprintf("a folder of %d objects", cfg.writes), lat)
	floor, err := b.pushFloor(ctx, "latency-folder/"+latencyNamespace+"/configmaps", 1, floorPushes)
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
	floorBig, err := b.pushFloor(ctx, folder, 1, floorPushes)
	if err != nil {
		return b.explain(err)
	}
	fmt.Printf("push floor, the folder of %d objects: p50 %.0fms p99 %.0fms\n", cfg.objects, ms(floorBig.p50), ms(floorBig.p99))
	batchBig, err := b.pushFloor(ctx, folder, batchCommits, batchPushes)
	if err != nil {
		return b.explain(err)
	}
	fmt.Printf("push floor, the folder of %d objects, %d commits per push (what one push of ours carries at %d writes/s): p50 %.0fms p99 %.0fms\n",
		cfg.objects, batchCommits, cfg.rate, ms(batchBig.p50), ms(batchBig.p99))
	peak, err := b.status("VmHWM")
	if err != nil {
		return b.explain(err)
	}
	fmt.Printf("memory: peak RSS %.0f MiB through the snapshot and the bursts of writes\n", peak)
	restart, err := b.restart(ctx)
	if err != nil {
		return b.explain(err)
	}
	fmt.Printf("restart: kill -9, %d changes while down, converged again with nothing lost in %.2fs\n", restartChanges, restart.Seconds())
	var rem remoteFigures
	if cfg.remote {
		if rem, err = b.remote(ctx); err != nil {
			return b.explain(err)
		}
		report(fmt.Sprintf("a folder of %d objects of a remote cluster", cfg.writes), rem.latency)
		fmt.Printf("remote cluster: RSS grew by %.0f MiB with its watches and snapshot; %d of %d commits name their author (its audit webhook)\n",
			rem.rss, rem.attributed, cfg.writes)
	}
	var large largeFigures
	if cfg.large > 0 {
		if large, err = b.large(ctx); err != nil {
			return b.explain(err)
		}
		fmt.Printf("scale: %d ConfigMaps to their first pushed commit in %.2fs (kubectl get -o yaml of them: %.2fs), RSS %.0f MiB after\n",
			cfg.large, large.snapshot.Seconds(), large.reference.Seconds(), large.rss)
		fmt.Printf("latency, the folder of %d objects: %d writes at %d/s, write to commit on the remote p50 %.0fms p99 %.0fms; push floor p50 %.0fms p99 %.0fms\n",
			cfg.large, largeWrites, largeRate, ms(large.latency.e2e.p50), ms(large.latency.e2e.p99), ms(large.floor.p50), ms(large.floor.p99))
	}
	fmt.Printf("bench-e2e: attribution=%s rate=%d p50_ms=%.0f p99_ms=%.0f push_floor_ms=%.0f p50_10k_folder_ms=%.0f push_floor_10k_ms=%.0f push30_floor_10k_ms=%.0f snapshot_10k_s=%.2f kubectl_10k_s=%.2f rss_10k_mib=%.0f rss_peak_mib=%.0f restart_10k_s=%.2f snapshot_100k_s=%.2f kubectl_100k_s=%.2f rss_100k_mib=%.0f p50_100k_folder_ms=%.0f push_floor_100k_ms=%.0f remote_p50_ms=%.0f remote_p99_ms=%.0f remote_rss_mib=%.0f remote_attributed=%d\n",
		cfg.attribution, cfg.rate, ms(lat.e2e.p50), ms(lat.e2e.p99), ms(floor.p50), ms(big.e2e.p50), ms(floorBig.p50), ms(batchBig.p50), snapshot.Seconds(), reference.Seconds(), rss, peak, restart.Seconds(),
		large.snapshot.Seconds(), large.reference.Seconds(), large.rss, ms(large.latency.e2e.p50), ms(large.floor.p50),
		ms(rem.latency.e2e.p50), ms(rem.latency.e2e.p99), rem.rss, rem.attributed)
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// explain adds where the operator's log is to an error.
func (b *bench) explain(err error) error {
	b.cfg.keep = true
	return fmt.Errorf("%w (operator log: %s)", err, filepath.Join(b.dir, "operator.log"))
}
