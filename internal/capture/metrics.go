package capture

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the pipeline's Prometheus metrics, labelled by GitTarget (namespace/name). A nil
// *Metrics records nothing.
type Metrics struct {
	observed     *prometheus.CounterVec
	commits      *prometheus.CounterVec
	coalesced    *prometheus.CounterVec
	unattributed *prometheus.CounterVec
	failed       *prometheus.CounterVec
	queued       *prometheus.GaugeVec
	held         *prometheus.GaugeVec
	latency      prometheus.Histogram
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	target := []string{"target"}
	m := &Metrics{
		observed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_reverser_changes_observed_total", Help: "Changes of watched objects observed, before routing.",
		}, target),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_reverser_commits_total", Help: "Commits made for a target, by kind (change, reconcile).",
		}, append(target, "kind")),
		coalesced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_reverser_changes_coalesced_total", Help: "Changes folded into a later change of the same object because Git was slower than the cluster.",
		}, target),
		unattributed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_reverser_changes_unattributed_total", Help: "Commits whose Kubernetes user could not be determined.",
		}, target),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_reverser_changes_failed_total", Help: "Changes that could not be turned into a commit (see the operator's log).",
		}, target),
		queued: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gitops_reverser_changes_queued", Help: "Changes waiting to become commits.",
		}, target),
		held: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gitops_reverser_changes_held", Help: "Changes of sensitive resources held until they can be encrypted.",
		}, target),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gitops_reverser_change_commit_seconds", Help: "Time from observing a change to its local commit.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
	}
	for _, c := range []prometheus.Collector{m.observed, m.commits, m.coalesced, m.unattributed, m.failed, m.queued, m.held, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) observe(target string) {
	if m != nil {
		m.observed.WithLabelValues(target).Inc()
	}
}

func (m *Metrics) committed(target, kind string) {
	if m != nil {
		m.commits.WithLabelValues(target, kind).Inc()
	}
}

func (m *Metrics) coalesce(target string) {
	if m != nil {
		m.coalesced.WithLabelValues(target).Inc()
	}
}

func (m *Metrics) unattributedCommit(target string) {
	if m != nil {
		m.unattributed.WithLabelValues(target).Inc()
	}
}

func (m *Metrics) fail(target string) {
	if m != nil {
		m.failed.WithLabelValues(target).Inc()
	}
}

func (m *Metrics) setQueued(target string, n, held int) {
	if m != nil {
		m.queued.WithLabelValues(target).Set(float64(n))
		m.held.WithLabelValues(target).Set(float64(held))
	}
}

func (m *Metrics) commitLatency(d time.Duration) {
	if m != nil {
		m.latency.Observe(d.Seconds())
	}
}

func (m *Metrics) forget(target string) {
	if m != nil {
		for _, v := range []*prometheus.CounterVec{m.observed, m.coalesced, m.unattributed, m.failed} {
			v.DeleteLabelValues(target)
		}
		m.commits.DeletePartialMatch(prometheus.Labels{"target": target})
		m.queued.DeleteLabelValues(target)
		m.held.DeleteLabelValues(target)
	}
}
