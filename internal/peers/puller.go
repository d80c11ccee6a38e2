package peers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/gitops-reverser/gitops-reverser/internal/attribution"
)

// Options configure a Puller.
type Options struct {
	Client kubernetes.Interface
	// Namespace and Service name the webhook Service whose EndpointSlices list the replicas;
	// PortName is its webhook port's name.
	Namespace, Service, PortName string
	// CertDir holds the webhook certificate (tls.crt, tls.key) and its CA (ca.crt).
	CertDir string
	// Instance is this replica's name in the journal streams, to skip itself.
	Instance string
	// Index receives the other replicas' facts.
	Index   *attribution.Index
	Metrics *Metrics
	Log     logr.Logger
}

// Puller runs on the leader: one journal stream from each other ready replica into the Index,
// kept open, resumed where it stopped after a broken connection.
type Puller struct {
	opts Options

	mu      sync.Mutex
	streams map[string]context.CancelFunc // by host:port
	heard   map[string]time.Time          // when each stream last said anything
	self    map[string]bool               // addresses that turned out to be this replica
	synced  bool                          // the EndpointSlices were listed
}

// settleMargin is how long after a change was seen a replica's journal must have been heard
// from before the leader takes it that the replica holds no fact about the change. The fact was
// recorded before the API server wrote, and the watch delivered the write after that; the margin
// covers a journal stream slower than the watch by that much.
const settleMargin = 50 * time.Millisecond

// Settled says whether every other ready replica's journal was heard from at least
// settleMargin after seen: then each fact they recorded before the change was written is in the
// index. Until the replicas are listed, and while one cannot be read, it is not.
func (p *Puller) Settled(seen time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.synced {
		return false
	}
	after := seen.Add(settleMargin)
	for addr := range p.streams {
		if p.self[addr] {
			continue
		}
		if at, ok := p.heard[addr]; !ok || !at.After(after) {
			return false
		}
	}
	return true
}

func (p *Puller) hear(addr string) {
	now := time.Now()
	p.mu.Lock()
	p.heard[addr] = now
	p.mu.Unlock()
}

// NewPuller returns a Puller; add it to the manager.
func NewPuller(opts Options) *Puller {
	return &Puller{opts: opts, streams: map[string]context.CancelFunc{}, heard: map[string]time.Time{}, self: map[string]bool{}}
}

var _ manager.LeaderElectionRunnable = (*Puller)(nil)

// NeedLeaderElection: only the leader commits, so only the leader needs every replica's facts.
func (p *Puller) NeedLeaderElection() bool { return true }

// Start watches the Service's EndpointSlices and keeps a stream to each ready replica.
func (p *Puller) Start(ctx context.Context) error {
	factory := informers.NewSharedInformerFactoryWithOptions(p.opts.Client, 0, informers.WithNamespace(p.opts.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = discoveryv1.LabelServiceName + "=" + p.opts.Service
		}))
	slices := factory.Discovery().V1().EndpointSlices()
	resync := func(any) { p.resync(ctx, slices.Lister().EndpointSlices(p.opts.Namespace)) }
	if _, err := slices.Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: resync, UpdateFunc: func(_, o any) { resync(o) }, DeleteFunc: resync,
	}); err != nil {
		return fmt.Errorf("watching the EndpointSlices of Service %s/%s: %w", p.opts.Namespace, p.opts.Service, err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	resync(nil) // no slice at all is an answer too: no other replica
	p.opts.Log.Info("Reading attribution facts from the other replicas", "service", p.opts.Namespace+"/"+p.opts.Service)
	<-ctx.Done()
	factory.Shutdown()
	p.mu.Lock()
	for addr, cancel := range p.streams {
		cancel()
		delete(p.streams, addr)
	}
	p.mu.Unlock()
	return nil
}

// resync starts a stream for each ready endpoint that has none and stops those that went.
func (p *Puller) resync(ctx context.Context, lister interface {
	List(labels.Selector) ([]*discoveryv1.EndpointSlice, error)
}) {
	list, err := lister.List(labels.Everything())
	if err != nil {
		return
	}
	defer func() {
		p.mu.Lock()
		p.synced = true
		p.mu.Unlock()
	}()
	want := map[string]bool{}
	for _, s := range list {
		var port int32
		for _, sp := range s.Ports {
			if sp.Name != nil && *sp.Name == p.opts.PortName && sp.Port != nil {
				port = *sp.Port
			}
		}
		if port == 0 {
			continue
		}
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			for _, a := range e.Addresses {
				want[net.JoinHostPort(a, strconv.Itoa(int(port)))] = true
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for addr, cancel := range p.streams {
		if !want[addr] {
			cancel()
			delete(p.streams, addr)
			delete(p.heard, addr)
			delete(p.self, addr)
		}
	}
	for addr := range want {
		if _, ok := p.streams[addr]; ok || ctx.Err() != nil {
			continue
		}
		sctx, cancel := context.WithCancel(ctx)
		p.streams[addr] = cancel
		go p.stream(sctx, addr)
	}
}

var errSelf = errors.New("this replica")

// stream reads addr's journal until ctx ends, reconnecting with a growing pause (at most 5 s).
func (p *Puller) stream(ctx context.Context, addr string) {
	log := p.opts.Log.WithValues("replica", addr)
	var instance string
	var next uint64
	pause := 200 * time.Millisecond
	failing := false
	for ctx.Err() == nil {
		connected, err := p.pullOnce(ctx, addr, &instance, &next)
		switch {
		case errors.Is(err, errSelf):
			p.mu.Lock()
			p.self[addr] = true
			p.mu.Unlock()
			return
		case ctx.Err() != nil:
			return
		case connected:
			pause, failing = 200*time.Millisecond, false
		}
		if err != nil && !failing {
			// Once per streak: a replica that is starting or going is routine.
			log.Info("Cannot read attribution facts from a replica; retrying", "error", err.Error())
			failing = true
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// pullOnce opens one stream and imports from it until it breaks. It reports whether it
// connected.
func (p *Puller) pullOnce(ctx context.Context, addr string, instance *string, next *uint64) (bool, error) {
	cfg, err := clientTLS(p.opts.CertDir, p.opts.Service+"."+p.opts.Namespace+".svc")
	if err != nil {
		return false, err
	}
	transport := &http.Transport{TLSClientConfig: cfg, ResponseHeaderTimeout: 10 * time.Second, DisableCompression: true}
	defer transport.CloseIdleConnections()
	u := url.URL{Scheme: "https", Host: addr, Path: attribution.JournalPath, RawQuery: "from=" + strconv.FormatUint(*next, 10)}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false, err
	}
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
		return false, fmt.Errorf("%s: %s", resp.Status, body)
	}
	got := resp.Header.Get(attribution.InstanceHeader)
	if got == p.opts.Instance {
		resp.Body.Close()
		return true, errSelf
	}
	if got != *instance {
		// Another process answers at this address: its journal starts at its first fact.
		restart := *instance != "" && *next > 0
		*instance, *next = got, 0
		if restart {
			resp.Body.Close()
			return true, errors.New("the replica restarted; reading its journal from the start")
		}
	}
	p.opts.Metrics.connected(1)
	defer p.opts.Metrics.connected(-1)
	err = attribution.ReadJournal(ctx, resp.Body, p.opts.Index, func(seq uint64) {
		*next = seq + 1
		p.opts.Metrics.imported()
	}, func() { p.hear(addr) })
	return true, err
}

// Metrics count what the leader took from the other replicas. A nil *Metrics records nothing.
type Metrics struct {
	facts   prometheus.Counter
	streams prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		facts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gitops_reverser_attribution_peer_facts_total", Help: "Attribution facts the leader took from the other replicas.",
		}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gitops_reverser_attribution_peer_streams", Help: "Other replicas the leader is reading attribution facts from.",
		}),
	}
	for _, c := range []prometheus.Collector{m.facts, m.streams} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) imported() {
	if m != nil {
		m.facts.Inc()
	}
}

func (m *Metrics) connected(delta float64) {
	if m != nil {
		m.streams.Add(delta)
	}
}
