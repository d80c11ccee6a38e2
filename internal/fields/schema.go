package fields

import (
	"fmt"
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// CheckPointer reports a filter that cannot match any field of objects of kind gvk, judged by
// the scheme's Go type of the kind; kinds the scheme does not know (custom resources) are not
// checked. It errs on the side of accepting: a value the type leaves open (raw JSON, an
// interface) accepts anything below it.
func CheckPointer(scheme *runtime.Scheme, gvk schema.GroupVersionKind, p Pointer) error {
	if !scheme.Recognizes(gvk) {
		return nil
	}
	obj, err := scheme.New(gvk)
	if err != nil {
		return nil
	}
	t := reflect.TypeOf(obj)
	for i, seg := range p.segments {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Struct:
			if seg == "*" {
				return nil // every field: nothing to check below
			}
			f, ok := jsonField(t, seg)
			if !ok {
				if open(t) {
					return nil
				}
				return fmt.Errorf("filter %s: %s has no field %q (at /%s)", p, t.Name(), seg, strings.Join(p.segments[:i+1], "/"))
			}
			t = f
		case reflect.Map:
			t = t.Elem()
		case reflect.Slice:
			if t.Elem().Kind() == reflect.Uint8 {
				return fmt.Errorf("filter %s: /%s is a value, it has no fields", p, strings.Join(p.segments[:i], "/"))
			}
			t = t.Elem()
		case reflect.Interface:
			return nil
		default:
			return fmt.Errorf("filter %s: /%s is a value, it has no fields", p, strings.Join(p.segments[:i], "/"))
		}
	}
	return nil
}

// open reports a struct that stands for a value rather than fields of its own (metav1.Time,
// resource.Quantity, intstr.IntOrString, runtime.RawExtension encode themselves).
func open(t reflect.Type) bool {
	return reflect.PointerTo(t).Implements(reflect.TypeFor[interface{ MarshalJSON() ([]byte, error) }]()) ||
		t.Implements(reflect.TypeFor[interface{ MarshalJSON() ([]byte, error) }]())
}

// jsonField finds the field a JSON name stands for, through inlined (embedded) structs.
func jsonField(t reflect.Type, name string) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		n, opts, _ := strings.Cut(tag, ",")
		if n == "-" {
			continue
		}
		if (f.Anonymous && n == "") || strings.Contains(","+opts+",", ",inline,") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if found, ok := jsonField(ft, name); ok {
					return found, true
				}
			}
			continue
		}
		if n == "" {
			n = f.Name
		}
		if n == name {
			return f.Type, true
		}
	}
	return nil, false
}
