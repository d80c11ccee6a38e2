package install

import "sigs.k8s.io/controller-runtime/pkg/client"

func keyOf(namespace, name string) client.ObjectKey {
	return client.ObjectKey{Namespace: namespace, Name: name}
}
