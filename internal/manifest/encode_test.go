package manifest

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	sigsyaml "sigs.k8s.io/yaml"
)

// FuzzEncodeWritesWhatKubectlsEncoderWrites: for any object the API server can send, Encode
// writes the bytes sigs.k8s.io/yaml writes, so no file in any folder changes when the encoder
// does. `go test` runs the seeds; `go test -fuzz` fuzzes.
func FuzzEncodeWritesWhatKubectlsEncoderWrites(f *testing.F) {
	objs, err := sampleObjects()
	if err != nil {
		f.Fatal(err)
	}
	for _, o := range objs {
		data, err := o.MarshalJSON()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		`{"a":1.0,"b":1e8,"c":1e21,"d":1.5e-7,"e":-0.0,"f":123456789012345678,"g":0.1}`,
		`{"s":["true","1","","null","~","0x1F","1e3","- a","a: b","#c","\u2028"," lead"],"n":null,"l":[],"m":{}}`,
		`{"a2":1,"a10":2,"A":3,"_":4,"10":5,"9":6,"b":{"z":[{"y":1,"x":[[]]}]}}`,
		`{"multi":"line one\nline two\n","tab":"a\tb","long":"` + string(bytes.Repeat([]byte("word "), 40)) + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var obj unstructured.Unstructured
		if err := obj.UnmarshalJSON(data); err != nil {
			if err := (&unstructured.Unstructured{}).UnmarshalJSON([]byte(`{"kind":"X","apiVersion":"v1","spec":` + string(data) + `}`)); err != nil {
				return
			}
			_ = obj.UnmarshalJSON([]byte(`{"kind":"X","apiVersion":"v1","spec":` + string(data) + `}`))
		}
		want, werr := sigsyaml.Marshal(obj.Object)
		got, gerr := encode(obj.Object)
		switch {
		case werr == nil && gerr != nil:
			t.Fatalf("kubectl's encoder writes %s; ours fails: %v", want, gerr)
		case werr == nil && !bytes.Equal(got, want):
			t.Fatalf("for %s\nkubectl's encoder writes:\n%s\nours:\n%s", data, want, got)
		case werr != nil && gerr == nil:
			// kubectl's encoder cannot parse its own JSON (a control character in a string, say);
			// ours writes YAML that reads back as the object.
			var back, same any
			if err := sigsyaml.Unmarshal(got, &back); err != nil {
				t.Fatalf("ours writes YAML that does not read back (%v):\n%s", err, got)
			}
			j, err := json.Marshal(obj.Object)
			if err != nil {
				return
			}
			if err := json.Unmarshal(j, &same); err != nil || !reflect.DeepEqual(back, same) {
				t.Fatalf("ours writes YAML that reads back as %v, not %v", back, same)
			}
		}
	})
}
