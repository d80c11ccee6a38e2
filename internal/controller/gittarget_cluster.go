package controller

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

// side is the cluster a GitTarget captures from and applies to, with what its API server serves.
type side struct {
	Pipeline TargetRunner
	Applier  ApplyRunner
	Catalogs *CatalogSource
	// remote says the cluster is one a kubeconfig names.
	remote bool
}

// remoteRecheck is how often a remote cluster's target is reconciled even when nothing changed,
// so that credentials that expired, or an API server that went away, show in its conditions.
const remoteRecheck = time.Minute

// sideOf returns the cluster of target: the operator's own, or the one its kubeconfig names,
// started as needed. Moving a target between clusters stops it on the one it leaves.
func (r *GitTargetReconciler) sideOf(ctx context.Context, target *configv1alpha1.GitTarget) (side, *stepError) {
	key := types.NamespacedName{Namespace: target.Namespace, Name: target.Name}
	local := side{Pipeline: r.Pipeline, Applier: r.Applier, Catalogs: r.Catalogs}
	if target.Spec.KubeConfig == nil {
		if r.Remote != nil {
			r.Remote.Release(key)
		}
		return local, nil
	}
	if r.Pipeline == nil {
		return local, nil // checks only: nothing runs in any cluster
	}
	r.stopOn(local, key)
	if r.Remote == nil {
		return side{}, failed(configv1alpha1.ReasonKubeConfigInvalid, "this operator runs without remote clusters")
	}
	rc, serr := loadKubeConfig(ctx, r.Reader, target)
	if serr != nil {
		if serr.reason != configv1alpha1.ReasonProgressing {
			r.Remote.Release(key)
		}
		return side{}, serr
	}
	c, err := r.Remote.use(ctx, key, rc)
	if err != nil {
		return side{}, failed(configv1alpha1.ReasonProgressing, "starting the watches of the cluster of %s: %w", rc.where, err)
	}
	if serr := r.Remote.check(ctx, c); serr != nil {
		ctrl.LoggerFrom(ctx).Info("Remote cluster not usable", "reason", serr.reason, "message", serr.Error())
		r.Remote.Release(key)
		return side{}, serr
	}
	return side{Pipeline: c.pipeline, Applier: c.applier, Catalogs: c.catalogs, remote: true}, nil
}

// stopOn stops the target's directions on one cluster.
func (r *GitTargetReconciler) stopOn(s side, key types.NamespacedName) {
	if s.Pipeline != nil {
		s.Pipeline.Remove(key)
	}
	if s.Applier != nil {
		s.Applier.Remove(key)
	}
}

// clusterProblem says whether a reason is about the target's cluster, which is tried again
// after remoteRecheck.
func clusterProblem(reason string) bool {
	switch reason {
	case configv1alpha1.ReasonClusterUnreachable, configv1alpha1.ReasonClusterAuthenticationFailed:
		return true
	}
	return false
}
