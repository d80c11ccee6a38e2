package chaos

import (
	"context"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// write is one API write of the load, as the API server answered it.
type write struct {
	name, rv, user string
	at             time.Time
	took           time.Duration
	err            error
}

// load patches ConfigMaps load-0 … load-<objects-1> in turn at a steady rate, as users taking
// turns, and keeps every answer.
type load struct {
	mu     sync.Mutex
	gate   sync.RWMutex
	writes []write
	stop   context.CancelFunc
	done   chan struct{}
}

type writer struct {
	name   string
	client kubernetes.Interface
}

func startLoad(ctx context.Context, ns string, objects, rate int, users []writer) *load {
	ctx, cancel := context.WithCancel(ctx)
	l := &load{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			g := &l.gate
			g.RLock()
			u := users[i%len(users)]
			name := fmt.Sprintf("load-%d", i%objects)
			patch := fmt.Sprintf(`{"data":{"seq":"%d"}}`, i)
			start := time.Now()
			cm, err := u.client.CoreV1().ConfigMaps(ns).Patch(context.Background(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
			w := write{name: name, user: u.name, at: start, took: time.Since(start), err: err}
			if err == nil {
				w.rv = cm.ResourceVersion
			}
			l.mu.Lock()
			l.writes = append(l.writes, w)
			l.mu.Unlock()
			g.RUnlock()
		}
	}()
	return l
}

// pause waits for the write under way and holds the next; resume lets them go on. Ticks missed
// meanwhile are dropped, not made up.
func (l *load) pause()  { l.gate.Lock() }
func (l *load) resume() { l.gate.Unlock() }

// Stop ends the load and returns every write.
func (l *load) Stop() []write {
	l.stop()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]write(nil), l.writes...)
}

// since returns the writes made after t.
func (l *load) since(t time.Time) []write {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []write
	for _, w := range l.writes {
		if w.at.After(t) {
			out = append(out, w)
		}
	}
	return out
}
