package gitwriter

import (
	"net/url"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Writer's Prometheus metrics, labelled by repository and branch. A nil
// *Metrics records nothing.
type Metrics struct {
	commits      *prometheus.CounterVec
	pushes       *prometheus.CounterVec
	pushDuration *prometheus.HistogramVec
	conflicts    *prometheus.CounterVec
	pending      *prometheus.GaugeVec
	bytesPushed  *prometheus.CounterVec
	writers      prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg (controller-runtime's
// metrics.Registry in the operator).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	labels := []string{"repository", "branch"}
	m := &Metrics{
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_reverser_git_commits_total", Help: "Commits made locally.",
		}, labels),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_reverser_git_pushes_total", Help: "Push attempts by result (success, conflict, error).",
		}, append(labels, "result")),
		pushDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gitops_reverser_git_push_duration_seconds", Help: "Duration of push attempts.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, labels),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_reverser_git_conflicts_replayed_total", Help: "Times the remote branch moved and pending commits were replayed on its new tip.",
		}, labels),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gitops_reverser_git_pending_commits", Help: "Local commits not yet on the remote.",
		}, labels),
		bytesPushed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_reverser_git_pushed_bytes_total", Help: "Bytes of pack data pushed successfully.",
		}, labels),
		writers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gitops_reverser_git_writers", Help: "Git writers running, one per repository and branch.",
		}),
	}
	for _, c := range []prometheus.Collector{m.commits, m.pushes, m.pushDuration, m.conflicts, m.pending, m.bytesPushed, m.writers} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// repoLabel drops any user information from a URL, so credentials never become a label.
func repoLabel(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return raw
	}
	u.User = nil
	return u.String()
}

func (m *Metrics) committed(repo, branch string, pending int) {
	if m == nil {
		return
	}
	m.commits.WithLabelValues(repoLabel(repo), branch).Inc()
	m.pending.WithLabelValues(repoLabel(repo), branch).Set(float64(pending))
}

func (m *Metrics) setWriters(n int) {
	if m == nil {
		return
	}
	m.writers.Set(float64(n))
}

func (m *Metrics) setPending(repo, branch string, pending int) {
	if m == nil {
		return
	}
	m.pending.WithLabelValues(repoLabel(repo), branch).Set(float64(pending))
}

func (m *Metrics) conflict(repo, branch string) {
	if m == nil {
		return
	}
	m.conflicts.WithLabelValues(repoLabel(repo), branch).Inc()
}

func (m *Metrics) observePush(repo, branch string, res networkResult) {
	if m == nil {
		return
	}
	repo = repoLabel(repo)
	m.pushDuration.WithLabelValues(repo, branch).Observe(res.took.Seconds())
	switch {
	case res.err == nil:
		m.pushes.WithLabelValues(repo, branch, "success").Inc()
		m.bytesPushed.WithLabelValues(repo, branch).Add(float64(res.bytes))
	case isStale(res.err):
		m.pushes.WithLabelValues(repo, branch, "conflict").Inc()
	default:
		m.pushes.WithLabelValues(repo, branch, "error").Inc()
	}
}
