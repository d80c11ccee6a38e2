package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/apply"
	"github.com/gitops-reverser/gitops-reverser/internal/capture"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/secrets"
)

// GitTargetReconciler checks what a GitTarget needs before anything is written for it (its
// GitProvider exists and is Ready, its branch is allowed, no other GitTarget owns an
// overlapping folder of the same branch), then hands the pipeline the target's plan, built from
// the rules that name it, and reports what the pipeline did.
type GitTargetReconciler struct {
	Client client.Client
	// Reader reads Secrets, which the manager does not cache.
	Reader   client.Reader
	Recorder events.EventRecorder
	// Pipeline runs the targets; nil only checks them.
	Pipeline TargetRunner
	Catalogs *CatalogSource
	// Writers reports when the targets' commits were last pushed.
	Writers *gitwriter.Registry
	// PipelineEvents carries a GitTarget whose pipeline or applier status changed. Optional.
	PipelineEvents <-chan event.GenericEvent
	// Applier runs the Git → cluster direction; nil leaves it off.
	Applier ApplyRunner
	// DefaultServiceAccount is what rules without spec.serviceAccountName apply as (in their
	// namespace); empty applies as the operator.
	DefaultServiceAccount string
	// Remote runs the targets whose spec.kubeConfig names another cluster; without it such
	// targets are refused.
	Remote *RemoteClusters

	mu       sync.Mutex
	reminded map[types.NamespacedName]time.Time // when a missing key backup was last brought up
	// suspended are the targets last seen with spec.suspend, to tell when one resumes.
	suspended map[types.NamespacedName]bool
}

// TargetRunner runs GitTargets' plans. *capture.Pipeline is one.
type TargetRunner interface {
	Apply(ctx context.Context, plan capture.Plan) error
	Remove(key types.NamespacedName)
	Suspend(plan capture.Plan)
	Status(key types.NamespacedName) (capture.Status, bool)
}

// ApplyRunner runs GitTargets' Git → cluster direction. *apply.Applier is one.
type ApplyRunner interface {
	Apply(ctx context.Context, plan apply.Plan) error
	Remove(key types.NamespacedName)
	Status(key types.NamespacedName) (apply.Status, bool)
	Request(key types.NamespacedName, reason string)
	TakePruned(key types.NamespacedName) []string
}

// ReconcileRequestedAnnotation asks for an immediate fetch and apply when its value changes, as
// Flux's reconcile.fluxcd.io/requestedAt does; status.lastHandledReconcileAt echoes the value.
const ReconcileRequestedAnnotation = "configbutler.ai/reconcile-requested-at"

var _ reconcile.Reconciler = (*GitTargetReconciler)(nil)

func (r *GitTargetReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	found := false
	result, err := reconcileStatus(ctx, r.Client, "GitTarget", req.NamespacedName, &configv1alpha1.GitTarget{},
		func(t *configv1alpha1.GitTarget) *int64 { return &t.Status.ObservedGeneration },
		func(t *configv1alpha1.GitTarget) (ctrl.Result, error) {
			found = true
			return r.reconcile(ctx, t)
		})
	if !found && err == nil {
		r.mu.Lock()
		delete(r.suspended, req.NamespacedName)
		delete(r.reminded, req.NamespacedName)
		r.mu.Unlock()
	}
	if !found && err == nil && r.Pipeline != nil {
		r.Pipeline.Remove(req.NamespacedName) // deleted: stop writing
	}
	if !found && err == nil && r.Remote != nil {
		r.Remote.Release(req.NamespacedName)
	}
	if !found && err == nil && r.Applier != nil {
		r.Applier.Remove(req.NamespacedName) // deleted: stop applying; nothing is pruned
	}
	return result, err
}

func (r *GitTargetReconciler) reconcile(ctx context.Context, target *configv1alpha1.GitTarget) (ctrl.Result, error) {
	key := types.NamespacedName{Namespace: target.Namespace, Name: target.Name}
	if r.noteSuspension(ctx, target) {
		// Both directions stop as at a shutdown; resuming starts them as at a start, from the
		// branch's cursor, which is how nothing made meanwhile is lost.
		if target.Spec.KubeConfig != nil && r.Remote != nil {
			// Its webhook scope is that cluster's own; it may also have just moved off ours.
			r.Remote.Release(key)
			if r.Pipeline != nil {
				r.Pipeline.Remove(key)
			}
		} else if r.Pipeline != nil {
			r.Pipeline.Suspend(r.suspendedPlan(ctx, target))
		}
		if r.Applier != nil {
			r.Applier.Remove(key)
		}
		return ctrl.Result{}, nil
	}
	s, serr := r.sideOf(ctx, target)
	var provider *configv1alpha1.GitProvider
	if serr == nil {
		provider, serr = r.validate(ctx, target)
	}
	var enc encryption
	var encErr *stepError
	if serr == nil && s.Pipeline != nil {
		enc, encErr = r.encryptionOf(ctx, target)
		if encErr != nil && encErr.reason == configv1alpha1.ReasonProgressing {
			serr = encErr
		} else {
			serr = r.run(ctx, s, target, provider, enc.keys)
		}
	}
	if serr != nil {
		if serr.reason != configv1alpha1.ReasonProgressing {
			r.stopOn(s, key)
		}
		stalled := serr.reason == configv1alpha1.ReasonBranchNotAllowed || serr.reason == configv1alpha1.ReasonPathConflict ||
			serr.reason == configv1alpha1.ReasonInvalidCommitSubject
		setReady(r.Recorder, target, &target.Status.Conditions, target.Generation, false, serr.reason, serr.Error(), stalled)
		if serr.reason == configv1alpha1.ReasonProgressing {
			return ctrl.Result{}, serr.err
		}
		if clusterProblem(serr.reason) {
			return ctrl.Result{RequeueAfter: remoteRecheck}, nil
		}
		return ctrl.Result{}, nil
	}
	where := fmt.Sprintf("branch %s, folder %s", target.Spec.Branch, cleanPath(target.Spec.Path))
	if s.Pipeline == nil {
		setReady(r.Recorder, target, &target.Status.Conditions, target.Generation, true, configv1alpha1.ReasonConnected, "writing to "+where, false)
		return ctrl.Result{}, nil
	}
	if s.remote {
		where += ", cluster of " + target.Spec.KubeConfig.SecretRef.Name
	}
	status, _ := s.Pipeline.Status(key)
	if status.LastCommit != "" {
		target.Status.LastCommit = status.LastCommit
	}
	if r.Writers != nil {
		if ws, ok := r.Writers.Statuses(provider.Spec.URL)[target.Spec.Branch]; ok && !ws.LastPush.IsZero() && ws.Pending == 0 {
			t := metav1.NewTime(ws.LastPush)
			target.Status.LastPushTime = &t
		}
	}
	result := r.remindOfBackup(ctx, target, enc)
	if s.remote && (result.RequeueAfter == 0 || result.RequeueAfter > remoteRecheck) {
		result.RequeueAfter = remoteRecheck
	}
	r.reportApplied(ctx, s.Applier, target)
	if !status.Synced {
		msg := "taking the first snapshot of " + where
		if status.Problem != "" {
			msg += ": " + status.Problem
		}
		// Working, not failing: the pipeline's status event brings us back.
		setReconciling(&target.Status.Conditions, target.Generation, configv1alpha1.ReasonProgressing, msg)
		return result, nil
	}
	switch {
	case encErr != nil:
		msg := encErr.Error() + "; changes of Secrets are held until encryption works, everything else is written"
		setReady(r.Recorder, target, &target.Status.Conditions, target.Generation, false, configv1alpha1.ReasonEncryptionNotReady, msg, false)
	case status.Held > 0:
		msg := fmt.Sprintf("%d changes of Secrets are held, never written in plaintext: configure spec.encryption with age recipients", status.Held)
		setReady(r.Recorder, target, &target.Status.Conditions, target.Generation, false, configv1alpha1.ReasonEncryptionNotReady, msg, false)
	default:
		setReady(r.Recorder, target, &target.Status.Conditions, target.Generation, true, configv1alpha1.ReasonSynced,
			"the folder holds the watched objects: "+where, false)
	}
	return result, nil
}

// remindOfBackup keeps EncryptionKeyBackedUp current and, while the key Secret still carries the
// backup-warning annotation, logs a warning nobody can miss and comes back to repeat it.
func (r *GitTargetReconciler) remindOfBackup(ctx context.Context, target *configv1alpha1.GitTarget, enc encryption) ctrl.Result {
	if enc.keys == nil || enc.secretName == "" {
		meta.RemoveStatusCondition(&target.Status.Conditions, configv1alpha1.EncryptionKeyBackedUpCondition)
		return ctrl.Result{}
	}
	if !enc.notBackedUp {
		meta.SetStatusCondition(&target.Status.Conditions, metav1.Condition{
			Type: configv1alpha1.EncryptionKeyBackedUpCondition, Status: metav1.ConditionTrue, Reason: configv1alpha1.ReasonKeyBackedUp,
			Message: "the backup-warning annotation was removed from Secret " + enc.secretName, ObservedGeneration: target.Generation,
		})
		return ctrl.Result{}
	}
	msg := backupMessage(enc.secretName)
	meta.SetStatusCondition(&target.Status.Conditions, metav1.Condition{
		Type: configv1alpha1.EncryptionKeyBackedUpCondition, Status: metav1.ConditionFalse, Reason: configv1alpha1.ReasonKeyNotBackedUp,
		Message: msg, ObservedGeneration: target.Generation,
	})
	key := types.NamespacedName{Namespace: target.Namespace, Name: target.Name}
	r.mu.Lock()
	if r.reminded == nil {
		r.reminded = map[types.NamespacedName]time.Time{}
	}
	due := time.Since(r.reminded[key]) >= backupReminder
	if due {
		r.reminded[key] = time.Now()
	}
	r.mu.Unlock()
	if due {
		ctrl.LoggerFrom(ctx).Error(nil, "AGE KEY NOT BACKED UP: encrypted files are unrecoverable if this cluster loses the key",
			"secret", enc.secretName, "do", msg)
		if r.Recorder != nil {
			r.Recorder.Eventf(target, nil, corev1.EventTypeWarning, configv1alpha1.ReasonKeyNotBackedUp, "Reconcile", "%s", msg)
		}
	}
	return ctrl.Result{RequeueAfter: backupReminder}
}

// run builds the target's plan and hands it to the pipeline.
func (r *GitTargetReconciler) run(ctx context.Context, s side, target *configv1alpha1.GitTarget, provider *configv1alpha1.GitProvider, keys *secrets.Keys) *stepError {
	settings, serr := providerSettings(ctx, r.Reader, provider)
	if serr != nil {
		return failed(configv1alpha1.ReasonProviderNotReady, "GitProvider %s: %w", provider.Name, serr)
	}
	inputs, err := rulesOf(ctx, r.Client, target, r.DefaultServiceAccount)
	if err != nil {
		return failed(configv1alpha1.ReasonProgressing, "%w", err)
	}
	catalog, err := s.Catalogs.Catalog(ctx)
	if err != nil {
		return failed(configv1alpha1.ReasonProgressing, "%w", err)
	}
	subject, serr := commitSubjectOf(target, provider)
	if serr != nil {
		return serr
	}
	plan, applyPlan := buildPlan(target, provider.Spec.URL, settings, inputs, catalog)
	plan.Subject = subject
	setTargetFilters(&target.Status.Conditions, target.Generation, plan.Sources)
	plan.Encryption = keys
	applyPlan.Keys = keys
	if e := target.Spec.Encryption; e != nil && e.SecretRef != nil {
		plan.KeySecret = &types.NamespacedName{Namespace: target.Namespace, Name: e.SecretRef.Name}
	}
	if err := s.Pipeline.Apply(ctx, plan); err != nil {
		if errors.Is(err, gitwriter.ErrBranchNotAllowed) {
			return failed(configv1alpha1.ReasonBranchNotAllowed, "%w", err)
		}
		return failed(configv1alpha1.ReasonProgressing, "starting the pipeline: %w", err)
	}
	if s.Applier != nil {
		if err := s.Applier.Apply(ctx, applyPlan); err != nil {
			return failed(configv1alpha1.ReasonProgressing, "starting the Git → cluster direction: %w", err)
		}
		if at := target.Annotations[ReconcileRequestedAnnotation]; at != "" && at != target.Status.LastHandledReconcileAt {
			s.Applier.Request(applyPlan.Target, "reconcile requested")
			target.Status.LastHandledReconcileAt = at
		}
	}
	return nil
}

func (r *GitTargetReconciler) validate(ctx context.Context, target *configv1alpha1.GitTarget) (*configv1alpha1.GitProvider, *stepError) {
	provider := &configv1alpha1.GitProvider{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: target.Namespace, Name: target.Spec.ProviderRef.Name}, provider)
	if apierrors.IsNotFound(err) {
		return nil, failed(configv1alpha1.ReasonProviderNotFound, "GitProvider %s not found in namespace %s", target.Spec.ProviderRef.Name, target.Namespace)
	}
	if err != nil {
		return nil, failed(configv1alpha1.ReasonProgressing, "reading GitProvider %s: %w", target.Spec.ProviderRef.Name, err)
	}
	if !gitwriter.BranchAllowed(target.Spec.Branch, provider.Spec.AllowedBranches) {
		return nil, failed(configv1alpha1.ReasonBranchNotAllowed, "branch %s does not match allowedBranches %v of GitProvider %s",
			target.Spec.Branch, provider.Spec.AllowedBranches, provider.Name)
	}
	if owner, serr := r.overlapping(ctx, target, provider.Spec.URL); serr != nil {
		return nil, serr
	} else if owner != nil {
		return nil, failed(configv1alpha1.ReasonPathConflict, "folder %s of branch %s overlaps folder %s of GitTarget %s/%s, which was there first",
			cleanPath(target.Spec.Path), target.Spec.Branch, cleanPath(owner.Spec.Path), owner.Namespace, owner.Name)
	}
	ready := meta.FindStatusCondition(provider.Status.Conditions, configv1alpha1.ReadyCondition)
	if ready == nil || ready.Status != metav1.ConditionTrue {
		reason, message := "not checked yet", ""
		if ready != nil {
			reason, message = ready.Reason, ": "+ready.Message
		}
		return nil, failed(configv1alpha1.ReasonProviderNotReady, "GitProvider %s is not ready (%s)%s", provider.Name, reason, message)
	}
	return provider, nil
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
	b := ctrl.NewControllerManagedBy(mgr).
		For(&configv1alpha1.GitTarget{}).
		Watches(&configv1alpha1.GitProvider{}, handler.EnqueueRequestsFromMapFunc(r.targetsOfProvider)).
		Watches(&configv1alpha1.GitTarget{}, handler.EnqueueRequestsFromMapFunc(r.allTargets)).
		Watches(&configv1alpha1.WatchRule{}, handler.EnqueueRequestsFromMapFunc(targetOfWatchRule)).
		Watches(&configv1alpha1.ClusterWatchRule{}, handler.EnqueueRequestsFromMapFunc(targetOfClusterWatchRule)).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.targetsUsingSecret), builder.OnlyMetadata)
	if r.PipelineEvents != nil {
		b = b.WatchesRawSource(source.Channel(r.PipelineEvents, &handler.EnqueueRequestForObject{}))
	}
	return b.Named("gittarget").Complete(r)
}

// targetsUsingSecret requeues the GitTargets whose age keys or kubeconfig live in the Secret: a
// key added, the backup-warning annotation removed, credentials rotated.
func (r *GitTargetReconciler) targetsUsingSecret(ctx context.Context, obj client.Object) []reconcile.Request {
	list := &configv1alpha1.GitTargetList{}
	if err := r.Client.List(ctx, list, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, t := range list.Items {
		e, k := t.Spec.Encryption, t.Spec.KubeConfig
		if (e != nil && e.SecretRef != nil && e.SecretRef.Name == obj.GetName()) || (k != nil && k.SecretRef.Name == obj.GetName()) {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: t.Namespace, Name: t.Name}})
		}
	}
	return out
}

// targetOfWatchRule and targetOfClusterWatchRule requeue the GitTarget a rule names: its plan
// changes with the rule (and with the rule's status, which follows CRDs appearing and going).
func targetOfWatchRule(_ context.Context, obj client.Object) []reconcile.Request {
	w, ok := obj.(*configv1alpha1.WatchRule)
	if !ok {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: w.Namespace, Name: w.Spec.TargetRef.Name}}}
}

func targetOfClusterWatchRule(_ context.Context, obj client.Object) []reconcile.Request {
	w, ok := obj.(*configv1alpha1.ClusterWatchRule)
	if !ok {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: w.Spec.TargetRef.Namespace, Name: w.Spec.TargetRef.Name}}}
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
