package watch

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// slowWatches is a Watches on the test's API server whose watch streams from a resourceVersion
// in namespace ns (a replay's, or an informer's after its list) send nothing for delay: an API
// server too loaded to answer at once.
func slowWatches(t *testing.T, ns string, delay time.Duration) *Watches {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(req)
			q := req.URL.Query()
			replay := q.Get("watch") == "true" && q.Get("sendInitialEvents") != "true" && q.Get("resourceVersion") != ""
			if err == nil && replay && strings.Contains(req.URL.Path, "/namespaces/"+ns+"/") {
				resp.Body = &slowBody{ReadCloser: resp.Body, delay: delay, closed: make(chan struct{})}
			}
			return resp, err
		})
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := New(client, Options{Log: testr.New(t)})
	t.Cleanup(w.Stop)
	return w
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// slowBody holds its first read back for delay, or until it is closed.
type slowBody struct {
	io.ReadCloser
	delay              time.Duration
	started, closeOnce sync.Once
	closed             chan struct{}
}

func (b *slowBody) Read(p []byte) (int, error) {
	b.started.Do(func() {
		select {
		case <-time.After(b.delay):
		case <-b.closed:
		}
	})
	return b.ReadCloser.Read(p)
}

func (b *slowBody) Close() error {
	b.closeOnce.Do(func() { close(b.closed) })
	return b.ReadCloser.Close()
}

// slowHistory writes three changes of one ConfigMap in namespace ns and has w watch it: the
// resourceVersion before them, after them, and the ConfigMap's last.
func slowHistory(t *testing.T, g Gomega, w *Watches, ns string) (key Key, from, until uint64, last string) {
	ctx := t.Context()
	key = Key{Resource: configMaps, Namespace: ns}
	from, err := w.Current(ctx, key)
	g.Expect(err).NotTo(HaveOccurred())
	cm := configMap(ns, "a", "1")
	g.Expect(env.Client.Create(ctx, cm)).To(Succeed())
	for _, v := range []string{"2", "3"} {
		cm.Data = map[string]string{"key": v}
		g.Expect(env.Client.Update(ctx, cm)).To(Succeed())
	}
	until, err = w.Current(ctx, key)
	g.Expect(err).NotTo(HaveOccurred())
	var seen recorder
	g.Expect(w.Subscribe(ctx, key, "store", seen.handle)).To(Succeed())
	g.Eventually(func() bool { return w.Synced(key, "store") }).WithTimeout(30 * time.Second).Should(BeTrue())
	objects, _ := w.List(key)
	g.Expect(objects).To(HaveLen(1))
	g.Expect(objects[0].GetResourceVersion()).To(Equal(cm.ResourceVersion), "the store shows the last change")
	return key, from, until, cm.ResourceVersion
}

// A stream that is quiet for longer than replayIdle before the history its store shows is a slow
// API server, not the end of the history: the replay waits for it.
func TestReplayWaitsForTheHistoryItsStoreShows(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	w := slowWatches(t, ns, 3*replayIdle)
	key, from, until, last := slowHistory(t, g, w, ns)

	events, err := w.Replay(t.Context(), key, from, until)
	g.Expect(err).NotTo(HaveOccurred())
	var got []string
	for _, e := range events {
		got = append(got, e.Object.GetResourceVersion())
	}
	g.Expect(got).To(HaveLen(3), "the create and both updates")
	g.Expect(got[2]).To(Equal(last))
	g.Expect(events[0].Type).To(Equal(Added))
}

// A stream that sends nothing within the replay's limit is an incomplete history, said as one,
// never an empty one.
func TestReplayThatIsNotSentSaysSo(t *testing.T) {
	g := NewWithT(t)
	ns := namespace(t)
	w := slowWatches(t, ns, time.Minute)
	w.replayLimit = 3 * time.Second
	key, from, until, _ := slowHistory(t, g, w, ns)

	events, err := w.Replay(t.Context(), key, from, until)
	var short *IncompleteError
	g.Expect(errors.As(err, &short)).To(BeTrue(), "%v", err)
	g.Expect(events).To(BeEmpty())
	g.Expect(short.Reached).To(Equal(from))
	g.Expect(short.Until).To(Equal(until))
	g.Expect(err.Error()).To(ContainSubstring("configmaps"))
}
