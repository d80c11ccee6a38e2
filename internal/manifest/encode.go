package manifest

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Encode returns obj as YAML the way kubectl prints it: keys sorted, two-space indent, integers
// kept as integers. The same object always encodes to the same bytes.
func Encode(obj *unstructured.Unstructured) ([]byte, error) {
	data, err := yaml.Marshal(obj.Object)
	if err != nil {
		return nil, fmt.Errorf("encoding %s %s/%s as YAML: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	return data, nil
}
