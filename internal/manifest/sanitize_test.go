package manifest

import (
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func parse(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
		t.Fatal(err)
	}
	return obj
}

func TestSanitizeRemovesWhatTheClusterAdded(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"configmap", `
apiVersion: v1
kind: ConfigMap
metadata:
  name: test-config
  namespace: default
  uid: 1b2c
  resourceVersion: "48213"
  creationTimestamp: "2026-11-21T12:00:00Z"
  managedFields: [{manager: kubectl}]
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: "{}"
  labels: {app: web}
data: {key: value}
immutable: true
`, `apiVersion: v1
data:
  key: value
immutable: true
kind: ConfigMap
metadata:
  labels:
    app: web
  name: test-config
  namespace: default
`},
		{"service keeps headless clusterIP and loses allocated ports", `
apiVersion: v1
kind: Service
metadata: {name: db, namespace: default}
spec:
  clusterIP: None
  clusterIPs: [None]
  ports: [{port: 5432, nodePort: 30001, protocol: TCP}]
status: {loadBalancer: {}}
`, `apiVersion: v1
kind: Service
metadata:
  name: db
  namespace: default
spec:
  clusterIP: None
  clusterIPs:
  - None
  ports:
  - port: 5432
    protocol: TCP
`},
		{"namespace label set by the API server", `
apiVersion: v1
kind: Namespace
metadata:
  name: team-a
  labels: {kubernetes.io/metadata.name: team-a}
spec: {finalizers: [kubernetes]}
`, `apiVersion: v1
kind: Namespace
metadata:
  name: team-a
spec:
  finalizers:
  - kubernetes
`},
		{"storage class keeps its provisioner", `
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: fast, uid: x}
provisioner: example.com/fast
`, `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: fast
provisioner: example.com/fast
`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			in := parse(t, tc.in)
			before := in.DeepCopy()
			out, err := Encode(Sanitize(in))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(string(out)).To(Equal(tc.want))
			g.Expect(in).To(Equal(before), "Sanitize must not change its input")
			again, _ := Encode(Sanitize(parse(t, string(out))))
			g.Expect(string(again)).To(Equal(string(out)), "sanitizing is idempotent")
		})
	}
}

func TestControlledObjectsAreRecognised(t *testing.T) {
	g := NewWithT(t)
	rs := parse(t, `
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-5d4f
  ownerReferences:
  - {apiVersion: apps/v1, kind: Deployment, name: web, uid: u1, controller: true}
`)
	g.Expect(ControlledBy(rs)).To(Equal(&ControllerRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}))
	cm := parse(t, `
apiVersion: v1
kind: ConfigMap
metadata:
  name: c
  ownerReferences: [{apiVersion: v1, kind: Secret, name: s, uid: u2}]
`)
	g.Expect(ControlledBy(cm)).To(BeNil())
}
