package controller

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
)

// GitTargetReconciler checks what a GitTarget needs before anything is written for it: its
// GitProvider exists and is Ready, its branch is allowed, and no other GitTarget owns an
// overlapping folder of the same branch.
type GitTargetReconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
}

var _ reconcile.Reconciler = (*GitTargetReconciler)(nil)

func (r *GitTargetReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return reconcileStatus(ctx, r.Client, "GitTarget", req.NamespacedName, &configv1alpha1.GitTarget{},
		func(t *configv1alpha1.GitTarget) *int64 { return &t.Status.ObservedGeneration },
		func(t *configv1alpha1.GitTarget) (ctrl.Result, error) { return r.reconcile(ctx, t) })
}

func (r *GitTargetReconciler) reconcile(ctx context.Context, target *configv1alpha1.GitTarget) (ctrl.Result, error) {
	if serr := r.validate(ctx, target); serr != nil {
		stalled := serr.reason == configv1alpha1.ReasonBranchNotAllowed || serr.reason == configv1alpha1.ReasonPathConflict
		setReady(r.Recorder, target, &target.Status.Conditions, target.Generation, false, serr.reason, serr.Error(), stalled)
		if serr.reason == configv1alpha1.ReasonProgressing {
			return ctrl.Result{}, serr.err
		}
		return ctrl.Result{}, nil
	}
	setReady(r.Recorder, target, &target.Status.Conditions, target.Generation, true, configv1alpha1.ReasonConnected,
		fmt.Sprintf("writing to branch %s, folder %s", target.Spec.Branch, cleanPath(target.Spec.Path)), false)
	return ctrl.Result{}, nil
}

func (r *GitTargetReconciler) validate(ctx context.Context, target *configv1alpha1.GitTarget) *stepError {
	provider := &configv1alpha1.GitProvider{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: target.Namespace, Name: target.Spec.ProviderRef.Name}, provider)
	if apierrors.IsNotFound(err) {
		return failed(configv1alpha1.ReasonProviderNotFound, "GitProvider %s not found in namespace %s", target.Spec.ProviderRef.Name, target.Namespace)
	}
	if err != nil {
		return failed(configv1alpha1.ReasonProgressing, "reading GitProvider %s: %w", target.Spec.ProviderRef.Name, err)
	}
	if !gitwriter.BranchAllowed(target.Spec.Branch, provider.Spec.AllowedBranches) {
		return failed(configv1alpha1.ReasonBranchNotAllowed, "branch %s does not match allowedBranches %v of GitProvider %s",
			target.Spec.Branch, provider.Spec.AllowedBranches, provider.Name)
	}
	if owner, serr := r.overlapping(ctx, target, provider.Spec.URL); serr != nil {
		return serr
	} else if owner != nil {
		return failed(configv1alpha1.ReasonPathConflict, "folder %s of branch %s overlaps folder %s of GitTarget %s/%s, which was there first",
			cleanPath(target.Spec.Path), target.Spec.Branch, cleanPath(owner.Spec.Path), owner.Namespace, owner.Name)
	}
	ready := meta.FindStatusCondition(provider.Status.Conditions, configv1alpha1.ReadyCondition)
	if ready == nil || ready.Status != metav1.ConditionTrue {
		reason, message := "not checked yet", ""
		if ready != nil {
			reason, message = ready.Reason, ": "+ready.Message
		}
		return failed(configv1alpha1.ReasonProviderNotReady, "GitProvider %s is not ready (%s)%s", provider.Name, reason, message)
	}
	return nil
}

// overlapping finds the GitTarget, in any namespace, that owns an overlapping folder of the same
// repository and branch.
func (r *GitTargetReconciler) overlapping(ctx context.Context, target *configv1alpha1.GitTarget, url string) (*configv1alpha1.GitTarget, *stepError) {
	all := &configv1alpha1.GitTargetList{}
	if err := r.Client.List(ctx, all); err != nil {
		return nil, failed(configv1alpha1.ReasonProgressing, "listing GitTargets: %w", err)
	}
	others := make([]targetOnBranch, 0, len(all.Items))
	for i := range all.Items {
		other := &all.Items[i]
		p := &configv1alpha1.GitProvider{}
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: other.Namespace, Name: other.Spec.ProviderRef.Name}, p); err != nil {
			continue
		}
		others = append(others, targetOnBranch{target: other, url: p.Spec.URL})
	}
	return firstOverlapping(targetOnBranch{target: target, url: url}, others), nil
}

// SetupWithManager watches GitTargets, and GitProviders for the targets that use them. Any
// GitTarget change requeues the others, since a folder freed or taken changes their conflicts.
func (r *GitTargetReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&configv1alpha1.GitTarget{}).
		Watches(&configv1alpha1.GitProvider{}, handler.EnqueueRequestsFromMapFunc(r.targetsOfProvider)).
		Watches(&configv1alpha1.GitTarget{}, handler.EnqueueRequestsFromMapFunc(r.allTargets)).
		Named("gittarget").
		Complete(r)
}

func (r *GitTargetReconciler) targetsOfProvider(ctx context.Context, obj client.Object) []reconcile.Request {
	list := &configv1alpha1.GitTargetList{}
	if err := r.Client.List(ctx, list, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, t := range list.Items {
		if t.Spec.ProviderRef.Name == obj.GetName() {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: t.Namespace, Name: t.Name}})
		}
	}
	return out
}

func (r *GitTargetReconciler) allTargets(ctx context.Context, obj client.Object) []reconcile.Request {
	list := &configv1alpha1.GitTargetList{}
	if err := r.Client.List(ctx, list); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, t := range list.Items {
		if t.UID != obj.GetUID() {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: t.Namespace, Name: t.Name}})
		}
	}
	return out
}
