package main

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/receiver"
)

// branchRequester asks the targets on a branch, in any cluster, to fetch and apply.
// *controller.Operator is one.
type branchRequester interface {
	RequestBranch(url, branch string) int
}

// setupPushReceiver serves Git servers' push webhooks on the webhook server, at
// receiver.PathPrefix/<namespace>/<gitprovider>: a push makes every GitTarget on that branch
// fetch and apply at once. Only GitProviders with spec.webhook accept them.
func setupPushReceiver(mgr manager.Manager, srv webhook.Server, targets branchRequester) {
	log := ctrl.Log.WithName("receiver")
	provider := func(ctx context.Context, namespace, name string) (*configv1alpha1.GitProvider, error) {
		p := &configv1alpha1.GitProvider{}
		if err := mgr.GetClient().Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, p); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("%w: GitProvider %s/%s not found", receiver.ErrNoProvider, namespace, name)
			}
			return nil, err
		}
		return p, nil
	}
	srv.Register(receiver.PathPrefix, receiver.New(receiver.Options{
		Token: func(ctx context.Context, namespace, name string) ([]byte, error) {
			p, err := provider(ctx, namespace, name)
			if err != nil {
				return nil, err
			}
			if p.Spec.Webhook == nil {
				return nil, fmt.Errorf("%w: GitProvider %s/%s has no spec.webhook", receiver.ErrNoProvider, namespace, name)
			}
			ref := p.Spec.Webhook.SecretRef
			key := ref.Key
			if key == "" {
				key = "token"
			}
			secret := &corev1.Secret{}
			// Read, not cached: the manager caches no Secrets.
			if err := mgr.GetAPIReader().Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, secret); err != nil {
				if apierrors.IsNotFound(err) {
					return nil, fmt.Errorf("%w: Secret %s/%s not found", receiver.ErrNoProvider, namespace, ref.Name)
				}
				return nil, err
			}
			if len(secret.Data[key]) == 0 {
				return nil, fmt.Errorf("%w: Secret %s/%s has no key %s", receiver.ErrNoProvider, namespace, ref.Name, key)
			}
			return secret.Data[key], nil
		},
		OnPush: func(namespace, name, branch string) {
			// Off the request's goroutine: finding the provider's URL reads the cache.
			go func() {
				p, err := provider(context.Background(), namespace, name)
				if err != nil {
					return
				}
				n := targets.RequestBranch(p.Spec.URL, branch)
				log.V(1).Info("Push webhook asks for a fetch", "gitProvider", namespace+"/"+name, "branch", branch, "targets", n)
			}()
		},
		Log: log,
	}))
}
