package controller

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
)

// CheckFunc connects to a repository and lists its branches, changing nothing.
type CheckFunc func(ctx context.Context, url string, creds gitwriter.Credentials) ([]string, error)

// GitProviderReconciler reports whether each GitProvider's repository can be reached and
// authenticated against, and why not.
type GitProviderReconciler struct {
	Client   client.Client
	Reader   client.Reader // uncached reads of Secrets and ConfigMaps
	Recorder events.EventRecorder
	// Check defaults to gitwriter.Check.
	Check CheckFunc
	// RecheckInterval is how often a connected provider is checked again (default 5m).
	RecheckInterval time.Duration
	// RetryInterval is how soon a provider that failed is checked again (default 30s).
	RetryInterval time.Duration
	// CheckTimeout bounds one check (default 30s).
	CheckTimeout time.Duration
	// Writers reports the Writers pushing to a repository, so that a failing push shows on the
	// provider even when a check succeeds. Optional.
	Writers interface {
		Statuses(url string) map[string]gitwriter.Status
	}
	// WriterEvents carries a GitProvider to reconcile when a Writer's status changed. Optional.
	WriterEvents <-chan event.GenericEvent
}

var _ reconcile.Reconciler = (*GitProviderReconciler)(nil)

func (r *GitProviderReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return reconcileStatus(ctx, r.Client, "GitProvider", req.NamespacedName, &configv1alpha1.GitProvider{},
		func(p *configv1alpha1.GitProvider) *int64 { return &p.Status.ObservedGeneration },
		func(p *configv1alpha1.GitProvider) (ctrl.Result, error) { return r.reconcile(ctx, p) })
}

func (r *GitProviderReconciler) reconcile(ctx context.Context, provider *configv1alpha1.GitProvider) (ctrl.Result, error) {
	branches, stepErr := r.check(ctx, provider)
	now := metav1.Now()
	provider.Status.LastCheckedTime = &now
	if stepErr != nil {
		stalled := stepErr.reason == configv1alpha1.ReasonSecretNotFound || stepErr.reason == configv1alpha1.ReasonInvalidCredentials
		setReady(r.Recorder, provider, &provider.Status.Conditions, provider.Generation, false, stepErr.reason, stepErr.Error(), stalled)
		logf.FromContext(ctx).Info("GitProvider cannot connect", "reason", stepErr.reason, "message", stepErr.Error())
		return ctrl.Result{RequeueAfter: orDefault(r.RetryInterval, 30*time.Second)}, nil
	}
	if branch, st, failing := r.failingWriter(provider.Spec.URL); failing {
		setReady(r.Recorder, provider, &provider.Status.Conditions, provider.Generation, false, st.Reason,
			fmt.Sprintf("pushing to branch %s: %s (%d commits waiting)", branch, st.Message, st.Pending), false)
		return ctrl.Result{RequeueAfter: orDefault(r.RetryInterval, 30*time.Second)}, nil
	}
	setReady(r.Recorder, provider, &provider.Status.Conditions, provider.Generation, true, configv1alpha1.ReasonConnected,
		fmt.Sprintf("connected to %s; %d branches", provider.Spec.URL, len(branches)), false)
	return ctrl.Result{RequeueAfter: orDefault(r.RecheckInterval, 5*time.Minute)}, nil
}

func (r *GitProviderReconciler) check(ctx context.Context, p *configv1alpha1.GitProvider) ([]string, *stepError) {
	settings, serr := providerSettings(ctx, r.Reader, p)
	if serr != nil {
		return nil, serr
	}
	check := r.Check
	if check == nil {
		check = gitwriter.Check
	}
	ctx, cancel := context.WithTimeout(ctx, orDefault(r.CheckTimeout, 30*time.Second))
	defer cancel()
	branches, err := check(ctx, p.Spec.URL, settings.Credentials)
	if err != nil {
		return nil, &stepError{reason: gitwriter.Classify(err), err: err, message: gitwriter.Describe(p.Spec.URL, err)}
	}
	return branches, nil
}

// failingWriter returns a Writer of url that cannot push, if any (the first branch by name).
func (r *GitProviderReconciler) failingWriter(url string) (string, gitwriter.Status, bool) {
	if r.Writers == nil {
		return "", gitwriter.Status{}, false
	}
	statuses := r.Writers.Statuses(url)
	branches := make([]string, 0, len(statuses))
	for b := range statuses {
		branches = append(branches, b)
	}
	sort.Strings(branches)
	for _, b := range branches {
		st := statuses[b]
		if st.Reason != configv1alpha1.ReasonConnected && st.Reason != configv1alpha1.ReasonProgressing {
			return b, st, true
		}
	}
	return "", gitwriter.Status{}, false
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// SetupWithManager watches GitProviders, and the Secrets and ConfigMaps they name (metadata
// only, so the operator does not cache every Secret of the cluster).
func (r *GitProviderReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(&configv1alpha1.GitProvider{}).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.providersReferencing), builder.OnlyMetadata).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.providersReferencing), builder.OnlyMetadata).
		Named("gitprovider")
	if r.WriterEvents != nil {
		b = b.WatchesRawSource(source.Channel(r.WriterEvents, &handler.EnqueueRequestForObject{}))
	}
	return b.Complete(r)
}

// providersReferencing maps a Secret or ConfigMap to the GitProviders of its namespace naming it.
func (r *GitProviderReconciler) providersReferencing(ctx context.Context, obj client.Object) []reconcile.Request {
	list := &configv1alpha1.GitProviderList{}
	if err := r.Client.List(ctx, list, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if referencesObject(&list.Items[i], obj) {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: list.Items[i].Name}})
		}
	}
	return out
}

func referencesObject(p *configv1alpha1.GitProvider, obj client.Object) bool {
	name := obj.GetName()
	if p.Spec.SecretRef != nil && p.Spec.SecretRef.Name == name {
		return true
	}
	if p.Spec.Signing != nil && p.Spec.Signing.SecretRef.Name == name {
		return true
	}
	if kh := p.Spec.KnownHosts; kh != nil {
		if (kh.SecretRef != nil && kh.SecretRef.Name == name) || (kh.ConfigMapRef != nil && kh.ConfigMapRef.Name == name) {
			return true
		}
	}
	return false
}
