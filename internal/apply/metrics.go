package apply

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Git → cluster direction's Prometheus metrics, labelled by GitTarget. A nil
// *Metrics records nothing.
type Metrics struct {
	duration *prometheus.HistogramVec
	objects  *prometheus.CounterVec
	drift    *prometheus.CounterVec
	errors   *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	target := []string{"target"}
	m := &Metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gitops_reverser_apply_duration_seconds", Help: "Time to apply one revision of a target's folder (read, decrypt, apply, prune).",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}, target),
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_reverser_apply_objects_total", Help: "Objects applied from Git, by action (created, configured, unchanged, deleted).",
		}, append(target, "action")),
		drift: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_reverser_drift_corrections_total", Help: "Objects changed in the cluster and put back from Git.",
		}, target),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_reverser_apply_errors_total", Help: "Files and objects that could not be applied, by reason.",
		}, append(target, "reason")),
	}
	for _, c := range []prometheus.Collector{m.duration, m.objects, m.drift, m.errors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) observeDuration(target string, d time.Duration) {
	if m != nil {
		m.duration.WithLabelValues(target).Observe(d.Seconds())
	}
}

func (m *Metrics) object(target, action string, n int) {
	if m != nil && n > 0 {
		m.objects.WithLabelValues(target, action).Add(float64(n))
	}
}

func (m *Metrics) corrected(target string) {
	if m != nil {
		m.drift.WithLabelValues(target).Inc()
	}
}

func (m *Metrics) failed(target, reason string) {
	if m != nil {
		m.errors.WithLabelValues(target, reason).Inc()
	}
}

func (m *Metrics) forget(target string) {
	if m == nil {
		return
	}
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{m.duration, m.objects, m.drift, m.errors} {
		v.DeletePartialMatch(prometheus.Labels{"target": target})
	}
}
