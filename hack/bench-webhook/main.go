// Command bench-webhook measures what the attribution webhook costs the writes of a cluster that
// no rule watches: their API latency with the operator up, down, and hung (accepting
// connections, never answering), each against no webhook at all, in one run on a real API
// server, next to a watched resource's and to the unscoped rules earlier installs shipped. It
// prints one line:
//
//	bench-webhook: up_p50_ms=<n> up_p99_ms=<n> up_none_p50_ms=<n> up_none_p99_ms=<n> down_… hung_… watched_up_p50_ms=<n> watched_hung_p50_ms=<n> unscoped_hung_p50_ms=<n>
//
// Each state's figure is followed by its reference in the same state: the same writes with the
// attribution webhook's configuration taken out (the machine's own drift over a run is larger
// than what is measured).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/stack"
	"github.com/gitops-reverser/gitops-reverser/internal/webhookscope"
)

const (
	// timeouts is how many writes measure the webhook's timeout: each takes 2 s.
	timeouts      = 20
	namespace     = "bench"
	configuration = "attribution" // the Stack's name for config/webhook's attribution webhook
)

func main() {
	writes := flag.Int("writes", 1000, "Writes per figure (20 where each waits for the webhook's 2 s timeout).")
	keep := flag.Bool("keep", false, "Keep the working directory (operator log).")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "bench-webhook-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	b := &bench{dir: dir, writes: *writes}
	err = b.run(ctx)
	b.stop()
	if *keep || err != nil {
		fmt.Println("kept", dir)
	} else {
		_ = os.RemoveAll(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-webhook:", err)
		os.Exit(1)
	}
}

type bench struct {
	dir    string
	writes int
	*stack.Rig
}

func (b *bench) stop() {
	if b.Rig != nil {
		b.Rig.Stop()
	}
}

func (b *bench) run(ctx context.Context) error {
	fmt.Println("starting a control plane, a Git server, and building the operator")
	rig, err := stack.StartRig(ctx, b.dir, "bench")
	if err != nil {
		return err
	}
	b.Rig = rig
	if err := b.Namespace(ctx, namespace); err != nil {
		return err
	}
	for _, name := range []string{"unwatched", "watched"} {
		if err := b.seed(ctx, name); err != nil {
			return err
		}
	}

	fmt.Println("starting the operator with the quick start (ConfigMaps captured)")
	args := append(b.Cluster.OperatorArgs("admission"), "--work-dir", b.Path("work"), "--cluster-name", "bench")
	if b.Operator, err = stack.StartOperator(b.Binary, b.Cluster.Kubeconfig, filepath.Join(b.dir, "operator.log"), args...); err != nil {
		return err
	}
	if err := b.quickStart(ctx); err != nil {
		return err
	}
	if err := b.awaitRules(ctx, func(r []admissionregistrationv1.RuleWithOperations) bool {
		// ConfigMaps, and CommitRequests (whose creator authors their commit); PodTemplates not.
		var resources []string
		for _, rule := range r {
			resources = append(resources, rule.Resources...)
		}
		sort.Strings(resources)
		return strings.Join(resources, ",") == "commitrequests,configmaps"
	}); err != nil {
		return err
	}
	up, err := b.measure(ctx, "operator up", "unwatched", b.writes)
	if err != nil {
		return err
	}
	upNone, err := b.withoutWebhook(ctx, "operator up")
	if err != nil {
		return err
	}
	watchedUp, err := b.measure(ctx, "operator up, a watched ConfigMap", "watched", b.writes)
	if err != nil {
		return err
	}

	if err := b.Operator.Stop(30 * time.Second); err != nil {
		return fmt.Errorf("stopping the operator: %w", err)
	}
	b.Operator = nil
	down, err := b.measure(ctx, "operator down", "unwatched", b.writes)
	if err != nil {
		return err
	}
	downNone, err := b.withoutWebhook(ctx, "operator down")
	if err != nil {
		return err
	}

	hung, err := hang(b.Cluster.WebhookPort)
	if err != nil {
		return err
	}
	defer hung.Close()
	hungUnwatched, err := b.measure(ctx, "operator hung", "unwatched", b.writes)
	if err != nil {
		return err
	}
	hungNone, err := b.withoutWebhook(ctx, "operator hung")
	if err != nil {
		return err
	}
	watchedHung, err := b.measure(ctx, "operator hung, a watched ConfigMap", "watched", timeouts)
	if err != nil {
		return err
	}
	// What installs shipped before the operator scoped its webhook: every resource.
	if err := b.setRules(ctx, []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{"*"}, APIVersions: []string{"*"}, Resources: []string{"*"}},
	}}); err != nil {
		return err
	}
	time.Sleep(2 * time.Second)
	unscoped, err := b.measure(ctx, "operator hung, unscoped rules (*)", "unwatched", timeouts)
	if err != nil {
		return err
	}
	fmt.Printf("bench-webhook: up_p50_ms=%.1f up_p99_ms=%.1f up_none_p50_ms=%.1f up_none_p99_ms=%.1f down_p50_ms=%.1f down_p99_ms=%.1f down_none_p50_ms=%.1f down_none_p99_ms=%.1f hung_p50_ms=%.1f hung_p99_ms=%.1f hung_none_p50_ms=%.1f hung_none_p99_ms=%.1f watched_up_p50_ms=%.1f watched_hung_p50_ms=%.0f unscoped_hung_p50_ms=%.0f\n",
		ms(up.p50), ms(up.p99), ms(upNone.p50), ms(upNone.p99), ms(down.p50), ms(down.p99), ms(downNone.p50), ms(downNone.p99),
		ms(hungUnwatched.p50), ms(hungUnwatched.p99), ms(hungNone.p50), ms(hungNone.p99), ms(watchedUp.p50), ms(watchedHung.p50), ms(unscoped.p50))
	return nil
}

// withoutWebhook is the reference of a figure, taken right after it in the same state: the
// attribution webhook's configuration taken out, the same writes, and the configuration put back
// as it was.
func (b *bench) withoutWebhook(ctx context.Context, state string) (percentiles, error) {
	vwcs := b.Clients.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	cfg, err := vwcs.Get(ctx, configuration, metav1.GetOptions{})
	if err != nil {
		return percentiles{}, err
	}
	if err := vwcs.Delete(ctx, configuration, metav1.DeleteOptions{}); err != nil {
		return percentiles{}, err
	}
	time.Sleep(2 * time.Second) // the API server's webhook informer
	p, err := b.measure(ctx, state+", no attribution webhook", "unwatched", b.writes)
	if err != nil {
		return p, err
	}
	cfg.ResourceVersion = ""
	if _, err := vwcs.Create(ctx, cfg, metav1.CreateOptions{}); err != nil {
		return p, err
	}
	time.Sleep(2 * time.Second)
	return p, nil
}

// seed creates the object a figure updates: a PodTemplate nobody watches, or a ConfigMap the quick
// start captures.
func (b *bench) seed(ctx context.Context, name string) error {
	if name == "watched" {
		_, err := b.Clients.CoreV1().ConfigMaps(namespace).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"n": "0"},
		}, metav1.CreateOptions{})
		return err
	}
	_, err := b.Clients.CoreV1().PodTemplates(namespace).Create(ctx, &corev1.PodTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Template:   corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}},
	}, metav1.CreateOptions{})
	return err
}

// measure updates the figure's object n times, one after the other, and reports the API
// server's latency for each.
func (b *bench) measure(ctx context.Context, what, name string, n int) (percentiles, error) {
	var took []time.Duration
	for i := range n {
		patch := []byte(fmt.Sprintf(`{"metadata":{"labels":{"n":"%d"}}}`, i))
		start := time.Now()
		var err error
		if name == "watched" {
			_, err = b.Clients.CoreV1().ConfigMaps(namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		} else {
			_, err = b.Clients.CoreV1().PodTemplates(namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		}
		if err != nil {
			return percentiles{}, fmt.Errorf("%s: write %d: %w", what, i, err)
		}
		took = append(took, time.Since(start))
	}
	p := percentilesOf(took)
	fmt.Printf("%s: %d writes, p50 %.1fms p99 %.1fms max %.1fms\n", what, n, ms(p.p50), ms(p.p99), ms(p.max))
	return p, nil
}

func (b *bench) quickStart(ctx context.Context) error {
	objects, err := stack.QuickStartManifest(b.Server.URL("bench"))
	if err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for { // the operator must be up to admit our kinds (the escalation check)
		_, err := b.Cluster.Kubectl(ctx, b.Cluster.Kubeconfig, objects, "apply", "-n", namespace, "-f", "-")
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (b *bench) webhook(ctx context.Context) (*admissionregistrationv1.ValidatingWebhookConfiguration, int, error) {
	cfg, err := b.Clients.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, configuration, metav1.GetOptions{})
	if err != nil {
		return nil, 0, err
	}
	for i := range cfg.Webhooks {
		if cfg.Webhooks[i].Name == webhookscope.WebhookName {
			return cfg, i, nil
		}
	}
	return nil, 0, fmt.Errorf("%s has no webhook %s", configuration, webhookscope.WebhookName)
}

func (b *bench) awaitRules(ctx context.Context, ok func([]admissionregistrationv1.RuleWithOperations) bool) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		cfg, i, err := b.webhook(ctx)
		if err == nil && ok(cfg.Webhooks[i].Rules) {
			time.Sleep(2 * time.Second) // the API server's webhook informer
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the operator did not scope its webhook to ConfigMaps (%v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (b *bench) setRules(ctx context.Context, rules []admissionregistrationv1.RuleWithOperations) error {
	cfg, i, err := b.webhook(ctx)
	if err != nil {
		return err
	}
	cfg.Webhooks[i].Rules = rules
	_, err = b.Clients.AdmissionregistrationV1().ValidatingWebhookConfigurations().Update(ctx, cfg, metav1.UpdateOptions{})
	return err
}

// hang listens where the operator's webhook server did, accepts every connection and never
// answers: a replica that is up but stuck.
func hang(port int) (net.Listener, error) {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, fmt.Errorf("listening as a hung operator: %w", err)
	}
	go func() {
		var held []net.Conn
		for {
			c, err := l.Accept()
			if err != nil {
				for _, c := range held {
					_ = c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	return l, nil
}

type percentiles struct{ p50, p99, max time.Duration }

func percentilesOf(d []time.Duration) percentiles {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return percentiles{p50: at(0.50), p99: at(0.99), max: d[len(d)-1]}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
