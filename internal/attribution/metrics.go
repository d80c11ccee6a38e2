package attribution

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the Index's and the receivers' Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	factsTotal   *prometheus.CounterVec
	matchedTotal *prometheus.CounterVec
	expiredTotal *prometheus.CounterVec
	droppedTotal *prometheus.CounterVec
	held         *prometheus.GaugeVec
	invalidTotal *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (controller-runtime's
// metrics.Registry in the operator).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	bySource := []string{"source"}
	m := &Metrics{
		factsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_reverser_attribution_facts_total", Help: "Facts recorded, by source (admission, audit).",
		}, bySource),
		matchedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_reverser_attribution_facts_matched_total", Help: "Facts that attributed an observed change, by source.",
		}, bySource),
		expiredTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_reverser_attribution_facts_expired_total", Help: "Facts that no observed change matched within the TTL, by source.",
		}, bySource),
		droppedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_reverser_attribution_facts_dropped_total", Help: "Facts dropped unmatched because the index was full, by source.",
		}, bySource),
		held: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gitops_reverser_attribution_facts", Help: "Facts held, waiting for an observed change, by source.",
		}, bySource),
		invalidTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitops_reverser_attribution_invalid_requests_total", Help: "Requests to a receiver (admission, audit) that could not be decoded.",
		}, []string{"receiver"}),
	}
	for _, c := range []prometheus.Collector{m.factsTotal, m.matchedTotal, m.expiredTotal, m.droppedTotal, m.held, m.invalidTotal} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) recorded(src source) {
	if m == nil {
		return
	}
	m.factsTotal.WithLabelValues(string(src)).Inc()
	m.held.WithLabelValues(string(src)).Inc()
}

func (m *Metrics) removed(src source) {
	if m == nil {
		return
	}
	m.held.WithLabelValues(string(src)).Dec()
}

func (m *Metrics) matched(src source) {
	if m == nil {
		return
	}
	m.matchedTotal.WithLabelValues(string(src)).Inc()
}

func (m *Metrics) expired(src source) {
	if m == nil {
		return
	}
	m.expiredTotal.WithLabelValues(string(src)).Inc()
}

func (m *Metrics) dropped(src source) {
	if m == nil {
		return
	}
	m.droppedTotal.WithLabelValues(string(src)).Inc()
}

func (m *Metrics) invalid(receiver source) {
	if m == nil {
		return
	}
	m.invalidTotal.WithLabelValues(string(receiver)).Inc()
}
