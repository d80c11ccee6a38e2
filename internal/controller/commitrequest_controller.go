package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/attribution"
	"github.com/gitops-reverser/gitops-reverser/internal/capture"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/manifest"
)

// Saver commits and pushes everything pending on a GitTarget. *capture.Pipeline is one.
type Saver interface {
	Save(ctx context.Context, key types.NamespacedName, req capture.SaveRequest) (capture.SaveResult, error)
}

// CommitRequestReconciler carries out each CommitRequest once: everything pending on its
// GitTarget committed and pushed, what the folder still lacks committed by the requester, and
// the resulting commit reported.
type CommitRequestReconciler struct {
	Client client.Client
	// Reader reads the request as the API server stored it, for its author's admission fact.
	Reader      client.Reader
	Recorder    events.EventRecorder
	Saver       Saver
	Attribution capture.Attributor
	// Timeout bounds one request (default 2 minutes): a remote that does not take the push
	// leaves the request failed, with the reason, rather than waiting forever.
	Timeout time.Duration
}

func (r *CommitRequestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return reconcileStatus(ctx, r.Client, "CommitRequest", req.NamespacedName, &configv1alpha1.CommitRequest{},
		func(c *configv1alpha1.CommitRequest) *int64 { return &c.Status.ObservedGeneration },
		func(c *configv1alpha1.CommitRequest) (ctrl.Result, error) { return r.reconcile(ctx, c) })
}

func (r *CommitRequestReconciler) reconcile(ctx context.Context, cr *configv1alpha1.CommitRequest) (ctrl.Result, error) {
	if cr.Status.CompletedAt != nil {
		return ctrl.Result{}, nil // handled once
	}
	log := ctrl.LoggerFrom(ctx)
	done := func(reason, message string, retry bool) (ctrl.Result, error) {
		setReady(r.Recorder, cr, &cr.Status.Conditions, cr.Generation, reason == configv1alpha1.ReasonSaved, reason, message, false)
		if retry {
			return ctrl.Result{RequeueAfter: 10 * time.Second}, nil
		}
		now := metav1.Now()
		cr.Status.CompletedAt = &now
		return ctrl.Result{}, nil
	}
	target := &configv1alpha1.GitTarget{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: cr.Namespace, Name: cr.Spec.TargetRef.Name}, target)
	if apierrors.IsNotFound(err) {
		return done(configv1alpha1.ReasonTargetNotFound, fmt.Sprintf("GitTarget %s not found in namespace %s", cr.Spec.TargetRef.Name, cr.Namespace), false)
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading GitTarget %s/%s: %w", cr.Namespace, cr.Spec.TargetRef.Name, err)
	}
	if target.Spec.Suspend {
		return done(configv1alpha1.ReasonTargetSuspended, "GitTarget "+target.Name+" is suspended: nothing is committed until it resumes", false)
	}
	requester := r.requester(ctx, cr)
	save := capture.SaveRequest{Name: cr.Namespace + "/" + cr.Name, Subject: cr.Spec.Message, Requester: requester}
	if requester != nil {
		cr.Status.Requester = requester.Name
	}
	timeout := orDefault(r.Timeout, 2*time.Minute)
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := r.Saver.Save(sctx, types.NamespacedName{Namespace: target.Namespace, Name: target.Name}, save)
	cr.Status.RequestCommit = res.RequestCommit
	switch {
	case errors.Is(err, capture.ErrNotRunning):
		// Not started yet (the operator is starting, or the target is not Ready): try again.
		return done(configv1alpha1.ReasonProgressing, "waiting for GitTarget "+target.Name+" to run", true)
	case err != nil:
		log.Info("CommitRequest failed", "target", target.Name, "error", err.Error())
		// A remote's answer can be a whole HTML page: the condition gets its one line, as the
		// GitProvider's does.
		return done(configv1alpha1.ReasonSaveFailed, gitwriter.Describe(r.providerURL(ctx, target), err), false)
	}
	cr.Status.Commit = res.Commit
	msg := "everything pending on GitTarget " + target.Name + " is on the remote at " + res.Commit
	if res.RequestCommit != "" {
		msg += "; the request's own commit is " + res.RequestCommit
	}
	log.Info("CommitRequest done", "target", target.Name, "commit", res.Commit, "requestCommit", res.RequestCommit,
		"requester", cr.Status.Requester)
	return done(configv1alpha1.ReasonSaved, msg, false)
}

// providerURL is the repository URL of the target's GitProvider, for the message of a failure;
// empty when it cannot be read.
func (r *CommitRequestReconciler) providerURL(ctx context.Context, target *configv1alpha1.GitTarget) string {
	p := &configv1alpha1.GitProvider{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: target.Namespace, Name: target.Spec.ProviderRef.Name}, p); err != nil {
		return ""
	}
	return p.Spec.URL
}

// requester is who created cr, from the attribution webhook's fact of its creation; nil when
// unknown (attribution off, or the fact expired before the operator saw the request).
func (r *CommitRequestReconciler) requester(ctx context.Context, cr *configv1alpha1.CommitRequest) *attribution.User {
	if r.Attribution == nil {
		return nil
	}
	stored := &unstructured.Unstructured{}
	stored.SetGroupVersionKind(configv1alpha1.GroupVersion.WithKind("CommitRequest"))
	if err := r.Reader.Get(ctx, client.ObjectKeyFromObject(cr), stored); err != nil {
		return nil
	}
	data, err := manifest.Encode(manifest.Sanitize(stored))
	if err != nil {
		return nil
	}
	q := attribution.Query{
		Identity: attribution.Identity{
			Group: configv1alpha1.GroupVersion.Group, Resource: "commitrequests", Namespace: cr.Namespace, Name: cr.Name,
		},
		Operation: string(configv1alpha1.OperationCreate), UID: string(cr.UID), ResourceVersion: stored.GetResourceVersion(),
		ContentHash: attribution.ContentHash(data),
	}
	// The fact is recorded before the request is stored, on this replica or, through its
	// journal, another's: a few seconds at most.
	deadline := time.After(requesterWait)
	for {
		updated := r.Attribution.Updated()
		if u, ok := r.Attribution.Lookup(q); ok {
			return &u
		}
		select {
		case <-updated:
		case <-deadline:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// requesterWait is how long a request waits for its creation's fact.
const requesterWait = 3 * time.Second

// SetupWithManager watches CommitRequests.
func (r *CommitRequestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).For(&configv1alpha1.CommitRequest{}).Named("commitrequest").Complete(r)
}
