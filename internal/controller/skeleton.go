package controller

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// reconcileStatus is the skeleton every reconciler here shares (Flux's): get the object (gone
// means done), run the steps, then patch the status once, with observedGeneration, whatever the
// steps returned.
func reconcileStatus[T client.Object](ctx context.Context, c client.Client, kind string, key types.NamespacedName, obj T,
	observedGeneration func(T) *int64, steps func(T) (ctrl.Result, error)) (result ctrl.Result, err error) {
	if err := c.Get(ctx, key, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	defer func() {
		*observedGeneration(obj) = obj.GetGeneration()
		if perr := c.Status().Patch(ctx, obj, patch); perr != nil {
			err = errors.Join(err, fmt.Errorf("patching status of %s %s: %w", kind, key, perr))
		}
	}()
	return steps(obj)
}
