package controller

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// CacheTransform is what the manager's cache keeps of each object. managedFields are never read
// from the cache. The objects watched as metadata only (every Secret, ConfigMap and CRD of the
// cluster, to learn that one a GitProvider, GitTarget or rule names has changed) are kept as
// their identity alone: the handlers read nothing else, and labels and annotations (Helm's
// release Secrets, kubectl's last-applied-configuration) would otherwise be held for every one
// of them.
func CacheTransform(in any) (any, error) {
	obj, err := cache.TransformStripManagedFields()(in)
	if err != nil {
		return nil, err
	}
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil
	}
	return &metav1.PartialObjectMetadata{
		TypeMeta: m.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name:              m.Name,
			Namespace:         m.Namespace,
			UID:               m.UID,
			ResourceVersion:   m.ResourceVersion,
			Generation:        m.Generation,
			DeletionTimestamp: m.DeletionTimestamp,
		},
	}, nil
}
