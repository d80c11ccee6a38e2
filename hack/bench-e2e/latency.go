package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

type percentiles struct{ p50, p99, max time.Duration }

func summarize(d []time.Duration) percentiles {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return percentiles{p50: at(0.50), p99: at(0.99), max: d[len(d)-1]}
}

type latencies struct{ e2e, api percentiles }

// latency updates distinct ConfigMaps of ns at the configured rate and measures each write's time
// to its commit on the remote, and the write itself.
func (b *bench) latency(ctx context.Context, ns, value string) (latencies, error) {
	return b.latencyAt(ctx, b.Clients, ns, value, b.cfg.writes, b.cfg.rate)
}

// latencyAt is latency with n writes at rate per second, made with clients (of the cluster the
// target captures).
func (b *bench) latencyAt(ctx context.Context, clients kubernetes.Interface, ns, value string, n, rate int) (latencies, error) {
	fmt.Printf("writing %d ConfigMaps of namespace %s at %d/s\n", n, ns, rate)
	n = min(n, b.cfg.objects)
	starts := make([]time.Time, n)
	apis := make([]time.Duration, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := range n {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			starts[i] = time.Now()
			_, err := clients.CoreV1().ConfigMaps(ns).Update(ctx, configMap(fmt.Sprintf("cm-%d", i), value), metav1.UpdateOptions{})
			apis[i] = time.Since(starts[i])
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return latencies{}, err
	}
	last := fmt.Sprintf("[UPDATE] configmaps %s/cm-%d", ns, n-1)
	if _, err := b.pushes.await(ctx, starts[0], 60*time.Second+time.Duration(n/rate)*time.Second, func(s string) bool { return s == last }); err != nil {
		return latencies{}, fmt.Errorf("waiting for %q: %w", last, err)
	}
	pushed, err := b.pushes.all(starts[0])
	if err != nil {
		return latencies{}, err
	}
	e2e := make([]time.Duration, n)
	for i := range n {
		subject := fmt.Sprintf("[UPDATE] configmaps %s/cm-%d", ns, i)
		at, ok := pushed[subject]
		if !ok {
			return latencies{}, fmt.Errorf("no commit %q on the remote", subject)
		}
		e2e[i] = at.Sub(starts[i])
	}
	return latencies{e2e: summarize(e2e), api: summarize(apis)}, nil
}
