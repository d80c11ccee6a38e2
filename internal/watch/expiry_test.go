package watch

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/controlplane"
)

// A watch that resumes after its connection broke, from a resourceVersion etcd has compacted
// away meanwhile, gets 410 Gone and the informer lists again. Subscribers must hear Relisted,
// and nothing may be lost: the re-list delivers what changed while the connection was down.
//
// The API server runs without a watch cache and compacts every second, and the watch reaches it
// through a TCP proxy the test cuts and restores.
func TestAnExpiredWatchIsListedAgainAndSaysSo(t *testing.T) {
	g := NewWithT(t)
	expiring, err := controlplane.Start(t.Context(), controlplane.Options{WithoutCRDs: true, APIServerFlags: map[string]string{
		"watch-cache":              "false",
		"etcd-compaction-interval": "1s",
	}})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = expiring.Stop() })
	proxy := newCuttableProxy(t, expiring.Config.Host)
	cfg := rest.CopyConfig(expiring.Config)
	cfg.Host = "https://" + proxy.addr
	client, err := dynamic.NewForConfig(cfg)
	g.Expect(err).NotTo(HaveOccurred())
	w := New(client, Options{Log: testr.New(t)})
	t.Cleanup(w.Stop)

	g.Expect(expiring.Client.Create(t.Context(), configMap("default", "gone-while-down", "1"))).To(Succeed())
	key := Key{Resource: configMaps, Namespace: "default"}
	rec := &recorder{}
	g.Expect(w.Subscribe(t.Context(), key, "test", rec.handle)).To(Succeed())
	g.Eventually(func() bool { return w.Synced(key, "test") }).WithTimeout(10 * time.Second).Should(BeTrue())

	proxy.cut()
	// Changes the watch cannot see, and enough revisions and compactions to leave its
	// resourceVersion behind.
	g.Expect(expiring.Client.Delete(t.Context(), configMap("default", "gone-while-down", "1"))).To(Succeed())
	g.Expect(expiring.Client.Create(t.Context(), configMap("default", "made-while-down", "1"))).To(Succeed())
	for i := range 20 {
		g.Expect(expiring.Client.Create(t.Context(), configMap("kube-public", fmt.Sprintf("churn-%d", i), "x"))).To(Succeed())
	}
	time.Sleep(3 * time.Second) // two compaction intervals: the compactor compacts to the revision it saw one interval ago
	proxy.restore()

	g.Eventually(rec.seen).WithTimeout(60 * time.Second).WithPolling(200 * time.Millisecond).Should(ContainElement("relisted"))
	g.Expect(rec.seen()).To(ContainElements("delete gone-while-down=1", "add made-while-down=1"))
	objs, ok := w.List(key)
	g.Expect(ok).To(BeTrue())
	names := make([]string, 0, len(objs))
	for _, o := range objs {
		names = append(names, o.GetName())
	}
	g.Expect(names).To(ContainElement("made-while-down"))
	g.Expect(slices.Contains(names, "gone-while-down")).To(BeFalse())
}

// cuttableProxy forwards TCP connections to an address until cut: then it closes every open
// connection and refuses new ones until restored.
type cuttableProxy struct {
	addr, target string
	mu           sync.Mutex
	down         bool
	conns        []net.Conn
}

func newCuttableProxy(t *testing.T, host string) *cuttableProxy {
	t.Helper()
	u, err := url.Parse(host)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttableProxy{addr: l.Addr().String(), target: u.Host}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); _ = l.Close(); p.cut() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(ctx, c)
		}
	}()
	return p
}

func (p *cuttableProxy) serve(ctx context.Context, c net.Conn) {
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		_ = c.Close()
		return
	}
	var d net.Dialer
	up, err := d.DialContext(ctx, "tcp", p.target)
	if err != nil {
		p.mu.Unlock()
		_ = c.Close()
		return
	}
	p.conns = append(p.conns, c, up)
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
	_, _ = io.Copy(c, up)
	_ = c.Close()
}

func (p *cuttableProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

func (p *cuttableProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// After an API server restart the informer's watch is too old for the new watch cache and it
// lists again; the changes made between the restart and the list still reach subscribers one by
// one, from the watch cache's history, not folded into the state the list found.
func TestAReListAfterAnAPIServerRestartDeliversEachChange(t *testing.T) {
	g := NewWithT(t)
	proxy := newCuttableProxy(t, env.Config.Host)
	cfg := rest.CopyConfig(env.Config)
	cfg.Host = "https://" + proxy.addr
	client, err := dynamic.NewForConfig(cfg)
	g.Expect(err).NotTo(HaveOccurred())
	w := New(client, Options{Log: testr.New(t)})
	t.Cleanup(w.Stop)
	key := Key{Resource: configMaps, Namespace: "kube-public"}
	rec := &recorder{}
	g.Expect(w.Subscribe(t.Context(), key, "test", rec.handle)).To(Succeed())
	g.Eventually(func() bool { return w.Synced(key, "test") }).WithTimeout(10 * time.Second).Should(BeTrue())
	g.Expect(env.Client.Create(t.Context(), configMap("kube-public", "changed-after-restart", "0"))).To(Succeed())
	g.Eventually(rec.seen).WithTimeout(10 * time.Second).Should(ContainElement("add changed-after-restart=0"))

	proxy.cut()
	// A revision past the watch's, so that the new watch cache starts after it.
	g.Expect(env.Client.Create(t.Context(), configMap("default", "churn-before-restart", "x"))).To(Succeed())
	g.Expect(env.RestartAPIServer()).To(Succeed())
	for _, v := range []string{"1", "2", "3"} {
		g.Eventually(func() error {
			return env.Client.Update(t.Context(), configMap("kube-public", "changed-after-restart", v))
		}).WithTimeout(30 * time.Second).Should(Succeed())
	}
	g.Expect(env.Client.Create(t.Context(), configMap("kube-public", "made-after-restart", "1"))).To(Succeed())
	proxy.restore()

	g.Eventually(rec.seen).WithTimeout(60 * time.Second).WithPolling(200 * time.Millisecond).Should(ContainElement("relisted"))
	g.Expect(rec.seen()).To(Equal([]string{"add changed-after-restart=0",
		"update changed-after-restart=1", "update changed-after-restart=2", "update changed-after-restart=3",
		"add made-after-restart=1",
		// The new cache's history begins at the restart: what lay between the old watch and it
		// (nothing of this namespace's) is for the subscribers to reconcile.
		"relisted"}), "each change on its own, in order, and nothing twice")
	g.Consistently(rec.seen).WithTimeout(2 * time.Second).Should(HaveLen(6))
}
