package apply

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	ssautils "github.com/fluxcd/pkg/ssa/utils"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

// FieldManager is the server-side apply field manager of everything this direction applies.
const FieldManager = "gitops-reverser"

// Annotations a manifest in Git can carry.
const (
	// PruneAnnotation: "disabled" keeps the object in the cluster when its manifest leaves Git.
	PruneAnnotation = "configbutler.ai/prune"
	// ForceAnnotation: "enabled" lets an apply that changes an immutable field delete and
	// recreate the object. Nothing else ever recreates an object.
	ForceAnnotation = "configbutler.ai/force"
)

// Managers hands out a resource manager per ServiceAccount an object is applied as, over one
// connection configuration each, built on first use.
type Managers struct {
	config *rest.Config
	scheme *runtime.Scheme
	mapper meta.RESTMapper

	mu   sync.Mutex
	byAs map[string]*ssa.ResourceManager
}

// NewManagers applies through config (the operator's own identity), impersonating
// ServiceAccounts where a rule names one.
func NewManagers(config *rest.Config, scheme *runtime.Scheme, mapper meta.RESTMapper) *Managers {
	return &Managers{config: config, scheme: scheme, mapper: mapper, byAs: map[string]*ssa.ResourceManager{}}
}

// For returns the manager applying as account (`namespace/name` of a ServiceAccount; "" for the
// operator itself).
func (m *Managers) For(account string) (*ssa.ResourceManager, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if rm, ok := m.byAs[account]; ok {
		return rm, nil
	}
	cfg := rest.CopyConfig(m.config)
	if account != "" {
		ns, name, ok := strings.Cut(account, "/")
		if !ok {
			return nil, fmt.Errorf("service account %q is not namespace/name", account)
		}
		cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":" + name}
	}
	// Applies of many objects run side by side: allow them the requests.
	cfg.QPS, cfg.Burst = 1000, 2000
	c, err := client.New(cfg, client.Options{Scheme: m.scheme, Mapper: m.mapper})
	if err != nil {
		return nil, fmt.Errorf("creating a client for %s: %w", accountName(account), err)
	}
	rm := ssa.NewResourceManager(c, polling.NewStatusPoller(c, m.mapper, polling.Options{}), ssa.Owner{Field: FieldManager, Group: "configbutler.ai"})
	m.byAs[account] = rm
	return rm, nil
}

func accountName(account string) string {
	if account == "" {
		return "the operator"
	}
	return "ServiceAccount " + account
}

// outcome is what happened to one selected object.
type outcome struct {
	sel    Selected
	action ssa.Action
	err    error
	// recheck: applied, but not known to match Git; not to be taken as clean.
	recheck bool
}

// applyOptions: no forced recreation unless the manifest asks; fields kubectl's client-side apply
// and a pre-SSA history left behind are taken over, by exact name only, so that fields a person
// set with kubectl edit or kubectl set stay theirs.
func applyOptions() ssa.ApplyOptions {
	opts := ssa.DefaultApplyOptions()
	opts.ForceSelector = map[string]string{ForceAnnotation: "enabled"}
	opts.WaitTimeout = 30 * time.Second
	opts.WaitInterval = 500 * time.Millisecond
	opts.Cleanup = ssa.ApplyCleanupOptions{
		FieldManagers: []ssa.FieldManager{
			{Name: "kubectl-client-side-apply", ExactMatch: true, OperationType: metav1.ManagedFieldsOperationUpdate},
			{Name: "before-first-apply", ExactMatch: true, OperationType: metav1.ManagedFieldsOperationUpdate},
		},
	}
	return opts
}

// applyAll applies the selected objects, definitions (CRDs, Namespaces, ClusterRoles) first and
// waited for, then the rest, each object on its own: one refused object never stops another.
// known reports the objects this target applied before (its inventory); nil treats every object
// as known.
func applyAll(ctx context.Context, managers *Managers, selected []Selected, concurrency int, known func(ObjectID) bool) []outcome {
	var defs, rest []Selected
	for _, s := range selected {
		if ssautils.IsClusterDefinition(s.Object) {
			defs = append(defs, s)
		} else {
			rest = append(rest, s)
		}
	}
	out := applyEach(ctx, managers, defs, concurrency, known)
	waitForDefinitions(ctx, managers, out)
	return append(out, applyEach(ctx, managers, rest, concurrency, known)...)
}

func applyEach(ctx context.Context, managers *Managers, selected []Selected, concurrency int, known func(ObjectID) bool) []outcome {
	out := make([]outcome, len(selected))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(concurrency, 1))
	opts := applyOptions()
	for i, s := range selected {
		g.Go(func() error {
			out[i] = applyOne(gctx, managers, s, opts, known == nil || known(s.ID))
			return nil
		})
	}
	_ = g.Wait()
	return out
}

func applyOne(ctx context.Context, managers *Managers, s Selected, opts ssa.ApplyOptions, known bool) outcome {
	rm, err := managers.For(s.Rule.Account)
	if err != nil {
		return outcome{sel: s, err: err}
	}
	if s.Split != nil {
		return applySplit(ctx, rm, s, opts)
	}
	if !known {
		if o, ok := create(ctx, rm, s); ok {
			return o
		}
	}
	entry, err := rm.Apply(ctx, s.Object.DeepCopy(), opts)
	if err != nil {
		return outcome{sel: s, err: explain(err, s)}
	}
	return outcome{sel: s, action: entry.Action}
}

// create applies an object this target never applied, when the cluster does not have it, with
// one request instead of ssa's three (read, dry-run, apply): nothing exists to compare with, to
// recreate or to take fields over from. It reports false when the full way must decide: the
// object exists, or the apply failed (the full way fails the same, with its dry-run's message).
func create(ctx context.Context, rm *ssa.ResourceManager, s Selected) (outcome, bool) {
	existing := &metav1.PartialObjectMetadata{}
	existing.SetGroupVersionKind(s.Object.GroupVersionKind())
	if err := rm.Client().Get(ctx, client.ObjectKeyFromObject(s.Object), existing); !apierrors.IsNotFound(err) {
		return outcome{}, false
	}
	obj := s.Object.DeepCopy()
	if err := rm.Client().Patch(ctx, obj, client.Apply, client.ForceOwnership, client.FieldOwner(FieldManager)); err != nil {
		return outcome{}, false
	}
	for _, f := range obj.GetManagedFields() {
		if f.Manager != FieldManager {
			// Created by someone else since the read: the next pass compares it the full way.
			return outcome{sel: s, action: ssa.ConfiguredAction, recheck: true}, true
		}
	}
	return outcome{sel: s, action: ssa.CreatedAction}, true
}

// explain says why the API server refused an object, naming the account when it was a
// permission.
func explain(err error, s Selected) error {
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("%w (applying as %s, for %s)", err, accountName(s.Rule.Account), s.Rule.Origin)
	}
	return err
}

// reasonOf is the Applied condition's reason for a refused object.
func reasonOf(err error) string {
	switch {
	case apierrors.IsForbidden(err):
		return configv1alpha1.ReasonForbidden
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		return configv1alpha1.ReasonInvalidManifest
	}
	return configv1alpha1.ReasonApplyFailed
}

// waitForDefinitions waits briefly for the CRDs just applied to be served, so the objects of
// their kinds that follow can be applied in the same pass.
func waitForDefinitions(ctx context.Context, managers *Managers, applied []outcome) {
	var crds []*unstructured.Unstructured
	for _, o := range applied {
		if o.err == nil && ssautils.IsCRD(o.sel.Object) && o.action != ssa.UnchangedAction {
			crds = append(crds, o.sel.Object)
		}
	}
	if len(crds) == 0 {
		return
	}
	rm, err := managers.For("")
	if err != nil {
		return
	}
	_ = rm.Wait(crds, ssa.WaitOptions{Interval: 200 * time.Millisecond, Timeout: 30 * time.Second})
	if r, ok := managers.mapper.(interface{ Reset() }); ok {
		r.Reset()
	}
}
