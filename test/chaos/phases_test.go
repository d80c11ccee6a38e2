package chaos

import (
	"sort"
	"time"
)

// The failures a run injects, one after the other, each followed by a check that both
// directions settled.

// killLeaders kills the leader n times with kill -9, starting a replica in its place each time,
// and returns how long after each kill the next leader's first commit of a new change reached
// the remote.
func (h *harness) killLeaders(n int) []time.Duration {
	var failovers []time.Duration
	for range n {
		victim := h.leader()
		at := time.Now()
		h.t.Logf("killing leader %s at %s", victim.Name, at.Format(time.RFC3339Nano))
		h.kill(victim)
		failovers = append(failovers, h.firstCommitAfter(at))
		h.forward()
		h.startReplica()
	}
	h.settled("the leader kills")
	return failovers
}

// gitDown stops the Git server for d, then starts it again on the same address.
func (h *harness) gitDown(d time.Duration) {
	h.t.Logf("Git down at %s", time.Now().Format(time.RFC3339Nano))
	if err := h.repo.Server.Stop(); err != nil {
		h.t.Fatal(err)
	}
	time.Sleep(d)
	if err := h.repo.Server.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.firstCommitAfter(time.Now())
	h.settled("the Git server was down")
}

// apiServerRestart restarts the kube-apiserver. The loads pause while it is down (their writes
// would fail on the API server, whatever the operator does); a leader that cannot renew its Lease
// meanwhile exits and is replaced, as the kubelet would.
func (h *harness) apiServerRestart() {
	h.load.pause()
	h.git.pause()
	at := time.Now()
	err := h.cl.Env.RestartAPIServer()
	h.git.resume()
	h.load.resume()
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Logf("API server restarted in %s", time.Since(at).Round(100*time.Millisecond))
	h.firstCommitAfter(time.Now())
	h.settled("the API server restart")
}

// allDown kills every replica: the webhooks unreachable, nobody writing; after d, as many start
// again.
func (h *harness) allDown(d time.Duration) {
	h.t.Logf("all down at %s", time.Now().Format(time.RFC3339Nano))
	var names []string
	for name, r := range h.replicas {
		h.kill(r)
		names = append(names, name)
	}
	sort.Strings(names)
	time.Sleep(d)
	for range names {
		h.startReplica()
	}
	h.firstCommitAfter(time.Now())
	h.settled("every replica was down")
}
