package manifest

import (
	"errors"
	"fmt"
	"math"
	"strings"

	yaml "go.yaml.in/yaml/v2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	sigsyaml "sigs.k8s.io/yaml"
)

// Encode returns obj as YAML the way kubectl prints it: keys sorted, two-space indent, integers
// kept as integers. The same object always encodes to the same bytes.
//
// The bytes are sigs.k8s.io/yaml's (kubectl's encoder, which every file of every folder was
// written with), without its detour: it encodes the object as JSON, parses that JSON as YAML
// and emits the result, and the parse was three quarters of what a snapshot allocated. The values
// are first made what the detour makes of them (asJSONWould); a value of a type it does not know
// takes the detour. FuzzEncodeWritesWhatKubectlsEncoderWrites compares the two.
func Encode(obj *unstructured.Unstructured) ([]byte, error) {
	data, err := encode(obj.Object)
	if err != nil {
		return nil, fmt.Errorf("encoding %s %s/%s as YAML: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	return data, nil
}

func encode(object map[string]any) ([]byte, error) {
	v, err := asJSONWould(object)
	if errors.Is(err, errUnknownType) {
		return sigsyaml.Marshal(object)
	}
	if err != nil {
		return nil, err
	}
	return yaml.Marshal(v)
}

var errUnknownType = errors.New("a value of a type JSON values do not have")

// asJSONWould returns v as a JSON round trip would give it to the YAML emitter: integral floats
// below 1e21 as integers (JSON writes them without a point), invalid UTF-8 replaced, nil lists
// null.
func asJSONWould(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			n, err := asJSONWould(e)
			if err != nil {
				return nil, err
			}
			out[strings.ToValidUTF8(k, "\uFFFD")] = n
		}
		return out, nil
	case []any:
		if v == nil {
			return nil, nil
		}
		out := make([]any, len(v))
		for i, e := range v {
			n, err := asJSONWould(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case string:
		return strings.ToValidUTF8(v, "\uFFFD"), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("json: unsupported value: %v", v)
		}
		if v == math.Trunc(v) && math.Abs(v) < 1e21 {
			return int64(v), nil
		}
		return v, nil
	case nil, bool, int, int32, int64:
		return v, nil
	}
	return nil, errUnknownType
}
