package controller

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/route"
	"github.com/gitops-reverser/gitops-reverser/internal/rules"
)

// unresolvedRetry is how soon rules naming resources that are not served look again: a CRD that
// was just created is served a moment after its event.
const unresolvedRetry = 5 * time.Second

// ruleResolver holds what both rule controllers share.
type ruleResolver struct {
	Client   client.Client
	Recorder events.EventRecorder
	Catalogs *CatalogSource
	// Remote gives the catalogs of the rules whose target captures a remote cluster. Optional.
	Remote *RemoteClusters
}

// catalogsOf is what the target's cluster serves: a remote one's once it runs.
func (r *ruleResolver) catalogsOf(target client.ObjectKey) *CatalogSource {
	if r.Remote != nil {
		if c, ok := r.Remote.catalogsOf(target); ok {
			return c
		}
	}
	return r.Catalogs
}

// resolveInto resolves rules, writes status.resources and Ready, and says when to look again.
func (r *ruleResolver) resolveInto(ctx context.Context, obj client.Object, status *configv1alpha1.WatchRuleStatus,
	target client.ObjectKey, ruleList []configv1alpha1.ResourceRule, scopes []rules.Scope,
	routeScopes []route.Scope) (ctrl.Result, error) {
	for i, rule := range ruleList {
		if _, err := route.Compile(rule, routeScopes[i]); err != nil {
			setReady(r.Recorder, obj, &status.Conditions, obj.GetGeneration(), false, configv1alpha1.ReasonInvalidSelector,
				fmt.Sprintf("rule %d: %v", i+1, err), true)
			return ctrl.Result{}, nil
		}
	}
	catalogs := r.catalogsOf(target)
	catalog, err := catalogs.Catalog(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	status.Resources = nil
	seen := map[string]bool{}
	var problems []string
	perRule := make([][]configv1alpha1.ResolvedResource, len(ruleList))
	for i, rule := range ruleList {
		resolved, ps := rules.Resolve(rule, scopes[i], catalog)
		perRule[i] = resolved
		for _, res := range resolved {
			key := fmt.Sprintf("%s/%s/%s/%s", res.Group, res.Version, res.Resource, res.SyncTo)
			if !seen[key] {
				seen[key] = true
				status.Resources = append(status.Resources, res)
			}
		}
		for _, p := range ps {
			problems = append(problems, fmt.Sprintf("rule %d: %s", i+1, p))
		}
	}
	gen := obj.GetGeneration()
	setFiltersValid(&status.Conditions, gen, r.Client.Scheme(), ruleList, perRule)
	if serr := r.targetReady(ctx, target); serr != nil {
		setReady(r.Recorder, obj, &status.Conditions, gen, false, serr.reason, serr.Error(), false)
		return ctrl.Result{}, nil
	}
	if len(problems) > 0 {
		msg := strings.Join(problems, "; ")
		if len(status.Resources) > 0 {
			msg += fmt.Sprintf(" (the other %d resources are watched)", len(status.Resources))
		}
		setReady(r.Recorder, obj, &status.Conditions, gen, false, configv1alpha1.ReasonResourceNotFound, msg, false)
		// Look again soon without a CRD event too: a served resource may just be on its way.
		catalogs.Invalidate()
		return ctrl.Result{RequeueAfter: unresolvedRetry}, nil
	}
	setReady(r.Recorder, obj, &status.Conditions, gen, true, configv1alpha1.ReasonResourcesResolved,
		fmt.Sprintf("watching %d resources", len(status.Resources)), false)
	return ctrl.Result{}, nil
}

func (r *ruleResolver) targetReady(ctx context.Context, key client.ObjectKey) *stepError {
	target := &configv1alpha1.GitTarget{}
	err := r.Client.Get(ctx, key, target)
	if apierrors.IsNotFound(err) {
		return failed(configv1alpha1.ReasonTargetNotFound, "GitTarget %s not found in namespace %s", key.Name, key.Namespace)
	}
	if err != nil {
		return failed(configv1alpha1.ReasonProgressing, "reading GitTarget %s: %w", key, err)
	}
	ready := meta.FindStatusCondition(target.Status.Conditions, configv1alpha1.ReadyCondition)
	if ready == nil || ready.Status != metav1.ConditionTrue {
		reason := "not checked yet"
		if ready != nil {
			reason = ready.Reason + ": " + ready.Message
		}
		return failed(configv1alpha1.ReasonTargetNotReady, "GitTarget %s is not ready (%s)", key.Name, reason)
	}
	return nil
}

// WatchRuleReconciler resolves WatchRules.
type WatchRuleReconciler struct{ ruleResolver }

func (r *WatchRuleReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return reconcileStatus(ctx, r.Client, "WatchRule", req.NamespacedName, &configv1alpha1.WatchRule{},
		func(w *configv1alpha1.WatchRule) *int64 { return &w.Status.ObservedGeneration },
		func(rule *configv1alpha1.WatchRule) (ctrl.Result, error) {
			scopes := make([]rules.Scope, len(rule.Spec.Rules))
			routeScopes := make([]route.Scope, len(rule.Spec.Rules))
			for i := range scopes {
				scopes[i], routeScopes[i] = rules.NamespacedOnly, route.Scope{Namespace: rule.Namespace}
			}
			target := client.ObjectKey{Namespace: rule.Namespace, Name: rule.Spec.TargetRef.Name}
			return r.resolveInto(ctx, rule, &rule.Status, target, rule.Spec.Rules, scopes, routeScopes)
		})
}

// ClusterWatchRuleReconciler resolves ClusterWatchRules.
type ClusterWatchRuleReconciler struct{ ruleResolver }

func (r *ClusterWatchRuleReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return reconcileStatus(ctx, r.Client, "ClusterWatchRule", req.NamespacedName, &configv1alpha1.ClusterWatchRule{},
		func(w *configv1alpha1.ClusterWatchRule) *int64 { return &w.Status.ObservedGeneration },
		func(rule *configv1alpha1.ClusterWatchRule) (ctrl.Result, error) {
			ruleList := make([]configv1alpha1.ResourceRule, len(rule.Spec.Rules))
			scopes := make([]rules.Scope, len(rule.Spec.Rules))
			routeScopes := make([]route.Scope, len(rule.Spec.Rules))
			for i, cr := range rule.Spec.Rules {
				ruleList[i], scopes[i] = cr.ResourceRule, rules.ScopeOf(cr.Scope)
				routeScopes[i] = route.Scope{NamespaceSelector: cr.NamespaceSelector}
			}
			target := client.ObjectKey{Namespace: rule.Spec.TargetRef.Namespace, Name: rule.Spec.TargetRef.Name}
			return r.resolveInto(ctx, rule, &rule.Status, target, ruleList, scopes, routeScopes)
		})
}

// SetupRuleControllers registers both rule controllers. A CRD appearing, changing or going away
// empties the discovery cache and re-resolves every rule; a GitTarget's change re-resolves the
// rules that write to it.
func SetupRuleControllers(mgr ctrl.Manager, resolver ruleResolver) error {
	crd := &metav1.PartialObjectMetadata{}
	crd.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
	// watchRules lists the WatchRules writing to target, or all when target is nil.
	watchRules := func(ctx context.Context, target client.Object) []reconcile.Request {
		list := &configv1alpha1.WatchRuleList{}
		if err := resolver.Client.List(ctx, list); err != nil {
			return nil
		}
		var out []reconcile.Request
		for _, w := range list.Items {
			if target == nil || (w.Namespace == target.GetNamespace() && w.Spec.TargetRef.Name == target.GetName()) {
				out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: w.Namespace, Name: w.Name}})
			}
		}
		return out
	}
	clusterWatchRules := func(ctx context.Context, target client.Object) []reconcile.Request {
		list := &configv1alpha1.ClusterWatchRuleList{}
		if err := resolver.Client.List(ctx, list); err != nil {
			return nil
		}
		var out []reconcile.Request
		for _, w := range list.Items {
			ref := w.Spec.TargetRef
			if target == nil || (ref.Namespace == target.GetNamespace() && ref.Name == target.GetName()) {
				out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: w.Name}})
			}
		}
		return out
	}
	allWatchRules, allClusterWatchRules := onCRD(resolver.Catalogs, watchRules), onCRD(resolver.Catalogs, clusterWatchRules)
	if err := ctrl.NewControllerManagedBy(mgr).
		For(&configv1alpha1.WatchRule{}).
		Watches(crd, allWatchRules, builder.OnlyMetadata).
		Watches(&configv1alpha1.GitTarget{}, handler.EnqueueRequestsFromMapFunc(watchRules)).
		Named("watchrule").
		Complete(&WatchRuleReconciler{resolver}); err != nil {
		return fmt.Errorf("setting up the WatchRule controller: %w", err)
	}
	if err := ctrl.NewControllerManagedBy(mgr).
		For(&configv1alpha1.ClusterWatchRule{}).
		Watches(crd, allClusterWatchRules, builder.OnlyMetadata).
		Watches(&configv1alpha1.GitTarget{}, handler.EnqueueRequestsFromMapFunc(clusterWatchRules)).
		Named("clusterwatchrule").
		Complete(&ClusterWatchRuleReconciler{resolver}); err != nil {
		return fmt.Errorf("setting up the ClusterWatchRule controller: %w", err)
	}
	return nil
}

// crdSettles are how long after a CRD event the rules are resolved again: the API server updates
// discovery a moment after the CRD itself changes (longer on a loaded machine), so a rule resolved
// at once can still see a resource that is going, or miss one that is coming.
var crdSettles = []time.Duration{2 * time.Second, 10 * time.Second}

// onCRD empties the discovery cache on every CRD event and resolves every rule that list returns
// at once and again after each of crdSettles, emptying the cache again each time: the resolution
// at once filled it with what discovery said then.
func onCRD(catalogs *CatalogSource, list func(context.Context, client.Object) []reconcile.Request) handler.EventHandler {
	enqueue := func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		catalogs.Invalidate()
		reqs := list(ctx, nil)
		for _, req := range reqs {
			q.Add(req)
		}
		for _, settle := range crdSettles {
			time.AfterFunc(settle, func() {
				catalogs.Invalidate()
				for _, req := range reqs {
					q.Add(req)
				}
			})
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, _ event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q)
		},
		UpdateFunc: func(ctx context.Context, _ event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q)
		},
		DeleteFunc: func(ctx context.Context, _ event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q)
		},
	}
}
