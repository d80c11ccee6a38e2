// Package webhookscope owns the rules of the attribution webhook: it keeps the
// ValidatingWebhookConfiguration's rules to the resources some rule captures (and to nothing when
// none does), so that every other write of the cluster never calls the operator, up or down.
package webhookscope

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// WebhookName is the attribution webhook's entry in its ValidatingWebhookConfiguration.
const WebhookName = "attribution.configbutler.ai"

// Options configure a Scope.
type Options struct {
	// Reader reads the ValidatingWebhookConfiguration (uncached: its rules are compared), and
	// Writer updates it.
	Reader client.Reader
	Writer client.Writer
	// Configuration is the ValidatingWebhookConfiguration's name.
	Configuration string
	// Resources lists what the webhook must see: the captured resources, or none when admission
	// attribution is off. It is called from the Scope's goroutine.
	Resources func() []schema.GroupResource
	// Resync repairs the rules this often when something else changed them (an upgrade of the
	// install puts back the shipped ones); default 5 minutes.
	Resync time.Duration
	// Grace is how long after the Scope starts rules are only added, never removed: a new leader
	// starts its targets one by one, and what the old one captured must keep its authors
	// meanwhile (other replicas record facts for it); default 1 minute.
	Grace time.Duration
	Log   logr.Logger
}

// Scope updates the webhook's rules whenever Changed is called, and on every resync. It is a
// manager Runnable that runs on the leader, whose watches decide what is captured.
type Scope struct {
	opts    Options
	changed chan struct{}
}

// New creates a Scope.
func New(opts Options) *Scope {
	if opts.Resync <= 0 {
		opts.Resync = 5 * time.Minute
	}
	if opts.Grace <= 0 {
		opts.Grace = time.Minute
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	return &Scope{opts: opts, changed: make(chan struct{}, 1)}
}

// Changed says the captured resources may have changed. It never blocks.
func (s *Scope) Changed() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// NeedLeaderElection: only the leader watches, so only it knows what is captured.
func (s *Scope) NeedLeaderElection() bool { return true }

// settle gathers the changes of a burst (a start subscribes every rule's resources one by one)
// into one update.
const settle = 200 * time.Millisecond

// Start keeps the rules current until ctx ends.
func (s *Scope) Start(ctx context.Context) error {
	// Rules are only added until the grace is over; from then on they are what is captured.
	growOnly := true
	graceOver := time.After(s.opts.Grace)
	failures := 0
	var retry <-chan time.Time
	resync := time.NewTicker(s.opts.Resync)
	defer resync.Stop()
	s.Changed()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.changed:
			select {
			case <-time.After(settle):
			case <-ctx.Done():
				return nil
			}
		case <-resync.C:
		case <-retry:
		case <-graceOver:
			growOnly = false
		}
		retry = nil
		if err := s.update(ctx, growOnly); err != nil && ctx.Err() == nil {
			failures++
			wait := min(time.Second<<min(failures, 6), time.Minute)
			s.opts.Log.Error(err, "Cannot scope the attribution webhook; retrying", "configuration", s.opts.Configuration, "retryIn", wait.String())
			retry = time.After(wait)
			continue
		}
		failures = 0
	}
}

// update sets the webhook's rules to what is captured now; growOnly keeps the rules it has too.
func (s *Scope) update(ctx context.Context, growOnly bool) error {
	captured := s.opts.Resources()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := s.opts.Reader.Get(ctx, client.ObjectKey{Name: s.opts.Configuration}, cfg); err != nil {
			if apierrors.IsNotFound(err) && len(captured) == 0 {
				return nil // nothing to scope, and nothing that would call the operator
			}
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("the ValidatingWebhookConfiguration %s does not exist (--attribution-webhook names it; empty leaves it alone)", s.opts.Configuration)
			}
			return fmt.Errorf("reading the ValidatingWebhookConfiguration %s: %w", s.opts.Configuration, err)
		}
		i := webhookIndex(cfg)
		if i < 0 {
			return fmt.Errorf("the ValidatingWebhookConfiguration %s has no webhook %s", s.opts.Configuration, WebhookName)
		}
		want := Rules(captured)
		if growOnly {
			have, wildcard := resourcesOf(cfg.Webhooks[i].Rules)
			if wildcard {
				return nil // an older install's match-everything rules: nothing is lost by waiting
			}
			want = Rules(append(have, captured...))
		}
		if reflect.DeepEqual(normal(cfg.Webhooks[i].Rules), normal(want)) {
			return nil
		}
		cfg.Webhooks[i].Rules = want
		if err := s.opts.Writer.Update(ctx, cfg); err != nil {
			return err
		}
		s.opts.Log.Info("Scoped the attribution webhook to the captured resources", "configuration", s.opts.Configuration,
			"resources", describe(want))
		return nil
	})
}

// resourcesOf reads rules back into resources, and whether any rule matches by wildcard (or by
// subresource), which Rules never writes.
func resourcesOf(rules []admissionregistrationv1.RuleWithOperations) ([]schema.GroupResource, bool) {
	var out []schema.GroupResource
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				if g == "*" || strings.ContainsAny(res, "*/") {
					return nil, true
				}
				out = append(out, schema.GroupResource{Group: g, Resource: res})
			}
		}
	}
	return out, false
}

func webhookIndex(cfg *admissionregistrationv1.ValidatingWebhookConfiguration) int {
	for i := range cfg.Webhooks {
		if cfg.Webhooks[i].Name == WebhookName {
			return i
		}
	}
	return -1
}

// normal treats no rules and an empty list alike.
func normal(rules []admissionregistrationv1.RuleWithOperations) []admissionregistrationv1.RuleWithOperations {
	if len(rules) == 0 {
		return nil
	}
	return rules
}

// Rules are the webhook rules for resources: one per API group, every version (the webhook's
// matchPolicy Equivalent sends other versions' writes as the watched one's), the main resources
// only (a subresource such as status is never versioned), creates, updates and deletes. Nothing
// for no resources: the webhook then matches no request at all.
func Rules(resources []schema.GroupResource) []admissionregistrationv1.RuleWithOperations {
	byGroup := map[string]map[string]bool{}
	for _, gr := range resources {
		if byGroup[gr.Group] == nil {
			byGroup[gr.Group] = map[string]bool{}
		}
		byGroup[gr.Group][gr.Resource] = true
	}
	groups := make([]string, 0, len(byGroup))
	for g := range byGroup {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	scope := admissionregistrationv1.AllScopes
	var rules []admissionregistrationv1.RuleWithOperations
	for _, g := range groups {
		names := make([]string, 0, len(byGroup[g]))
		for r := range byGroup[g] {
			names = append(names, r)
		}
		sort.Strings(names)
		rules = append(rules, admissionregistrationv1.RuleWithOperations{
			Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete},
			Rule:       admissionregistrationv1.Rule{APIGroups: []string{g}, APIVersions: []string{"*"}, Resources: names, Scope: &scope},
		})
	}
	return rules
}

func describe(rules []admissionregistrationv1.RuleWithOperations) []string {
	out := []string{}
	for _, r := range rules {
		for _, name := range r.Resources {
			if g := r.APIGroups[0]; g != "" {
				name += "." + g
			}
			out = append(out, name)
		}
	}
	return out
}
