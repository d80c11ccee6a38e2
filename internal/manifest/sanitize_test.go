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
		{"service keeps the node port a manager set and loses the allocated one", `
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
  managedFields:
  - manager: kubectl
    operation: Update
    fieldsType: FieldsV1
    fieldsV1:
      f:spec:
        f:type: {}
        f:ports:
          .: {}
          k:{"port":80,"protocol":"TCP"}: {.: {}, f:port: {}, f:protocol: {}, f:nodePort: {}}
          k:{"port":443,"protocol":"TCP"}: {.: {}, f:port: {}, f:protocol: {}}
spec:
  type: NodePort
  clusterIP: 10.0.0.17
  clusterIPs: [10.0.0.17]
  ports:
  - {port: 80, protocol: TCP, nodePort: 30080}
  - {port: 443, protocol: TCP, nodePort: 31443}
`, `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  ports:
  - nodePort: 30080
    port: 80
    protocol: TCP
  - port: 443
    protocol: TCP
  type: NodePort
`},
		{"claim keeps the volume its author bound it to", `
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  namespace: default
  annotations: {pv.kubernetes.io/bind-completed: "yes"}
spec: {volumeName: pv-1}
`, `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  namespace: default
spec:
  volumeName: pv-1
`},
		{"claim loses the volume the controller bound it to", `
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  namespace: default
  annotations: {pv.kubernetes.io/bind-completed: "yes", pv.kubernetes.io/bound-by-controller: "yes"}
  managedFields:
  - {manager: kube-controller-manager, operation: Update, fieldsType: FieldsV1, fieldsV1: {f:spec: {f:volumeName: {}}}}
spec: {volumeName: pvc-5d1e, storageClassName: fast}
`, `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  namespace: default
spec:
  storageClassName: fast
`},
		{"volume loses the claim the controller bound it to", `
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pvc-5d1e
  annotations: {pv.kubernetes.io/bound-by-controller: "yes"}
spec:
  claimRef: {apiVersion: v1, kind: PersistentVolumeClaim, name: data, namespace: default, uid: u1, resourceVersion: "42"}
  csi: {driver: fast.example.com, volumeHandle: vol-1}
`, `apiVersion: v1
kind: PersistentVolume
metadata:
  name: pvc-5d1e
spec:
  csi:
    driver: fast.example.com
    volumeHandle: vol-1
`},
		{"volume pre-bound by its author keeps the claim's name, loses its identity", `
apiVersion: v1
kind: PersistentVolume
metadata: {name: local-data}
spec:
  claimRef: {apiVersion: v1, kind: PersistentVolumeClaim, name: data, namespace: default, uid: u1, resourceVersion: "42"}
  hostPath: {path: /srv/data}
`, `apiVersion: v1
kind: PersistentVolume
metadata:
  name: local-data
spec:
  claimRef:
    apiVersion: v1
    kind: PersistentVolumeClaim
    name: data
    namespace: default
  hostPath:
    path: /srv/data
`},
		{"job loses the uid labels the API server copied into its own labels", `
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: default
  labels: {controller-uid: u1, batch.kubernetes.io/controller-uid: u1, job-name: migrate}
spec:
  selector: {matchLabels: {batch.kubernetes.io/controller-uid: u1}}
  template:
    metadata:
      labels: {controller-uid: u1, batch.kubernetes.io/controller-uid: u1, job-name: migrate}
`, `apiVersion: batch/v1
kind: Job
metadata:
  labels:
    job-name: migrate
  name: migrate
  namespace: default
spec:
  template:
    metadata:
      labels:
        job-name: migrate
`},
		{"certificate signing request loses its requester, which the API server fills in", `
apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata: {name: alice}
spec:
  request: UkVR
  signerName: example.com/client
  usages: [client auth]
  username: admin
  uid: u1
  groups: [system:masters, system:authenticated]
  extra: {authentication.kubernetes.io/credential-id: [X509SHA256=ab]}
`, `apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata:
  name: alice
spec:
  request: UkVR
  signerName: example.com/client
  usages:
  - client auth
`},
		{"node loses the taints its conditions put on it", `
apiVersion: v1
kind: Node
metadata: {name: worker-1}
spec:
  taints:
  - {key: dedicated, value: gpu, effect: NoSchedule}
  - {key: node.kubernetes.io/not-ready, effect: NoSchedule}
  - {key: node.kubernetes.io/unreachable, effect: NoExecute, timeAdded: "2026-11-21T12:00:00Z"}
`, `apiVersion: v1
kind: Node
metadata:
  name: worker-1
spec:
  taints:
  - effect: NoSchedule
    key: dedicated
    value: gpu
`},
		{"stateful set loses the status defaulted into its claim templates", `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: default}
spec:
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {resources: {requests: {storage: 1Gi}}}
    status: {phase: Pending}
`, `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: default
spec:
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      resources:
        requests:
          storage: 1Gi
`},
		{"device taint loses the time the API server stamped, keeps the one its author chose", `
apiVersion: resource.k8s.io/v1
kind: DeviceTaintRule
metadata:
  name: maintenance
  managedFields:
  - {manager: kubectl, operation: Update, fieldsType: FieldsV1, fieldsV1: {f:spec: {f:taint: {f:key: {}, f:effect: {}}}}}
spec:
  taint: {key: example.com/maintenance, effect: NoSchedule, timeAdded: "2026-11-21T12:00:00Z"}
`, `apiVersion: resource.k8s.io/v1
kind: DeviceTaintRule
metadata:
  name: maintenance
spec:
  taint:
    effect: NoSchedule
    key: example.com/maintenance
`},
		{"resource slice loses the time the API server stamped on its devices' taints", `
apiVersion: resource.k8s.io/v1
kind: ResourceSlice
metadata: {name: worker-1-gpu}
spec:
  devices:
  - name: gpu-0
    taints: [{key: example.com/broken, effect: NoExecute, timeAdded: "2026-11-21T12:00:00Z"}]
`, `apiVersion: resource.k8s.io/v1
kind: ResourceSlice
metadata:
  name: worker-1-gpu
spec:
  devices:
  - name: gpu-0
    taints:
    - effect: NoExecute
      key: example.com/broken
`},
		{"daemon set loses the template generation the API server counts", `
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  namespace: default
  annotations: {deprecated.daemonset.template.generation: "7", team: a}
`, `apiVersion: apps/v1
kind: DaemonSet
metadata:
  annotations:
    team: a
  name: agent
  namespace: default
`},
		{"pod loses the token volume and the limit annotation admission added, keeps its own volumes", `
apiVersion: v1
kind: Pod
metadata:
  name: app
  namespace: default
  annotations: {kubernetes.io/limit-ranger: "LimitRanger plugin set: cpu limit for container app"}
  managedFields:
  - manager: kubectl
    operation: Update
    fieldsType: FieldsV1
    fieldsV1:
      f:spec:
        f:volumes:
          .: {}
          k:{"name":"kube-api-access-mine"}: {.: {}, f:name: {}, f:projected: {}}
spec:
  serviceAccountName: default
  containers:
  - name: app
    resources: {limits: {cpu: 500m}}
    volumeMounts:
    - {name: config, mountPath: /etc/app}
    - {name: kube-api-access-mine, mountPath: /var/run/token}
    - {name: kube-api-access-x7k2p, mountPath: /var/run/secrets/kubernetes.io/serviceaccount, readOnly: true}
  initContainers:
  - name: init
    volumeMounts:
    - {name: kube-api-access-x7k2p, mountPath: /var/run/secrets/kubernetes.io/serviceaccount, readOnly: true}
  volumes:
  - {name: config, configMap: {name: app}}
  - {name: kube-api-access-mine, projected: {sources: [{serviceAccountToken: {path: token, audience: vault}}]}}
  - {name: kube-api-access-x7k2p, projected: {sources: [{serviceAccountToken: {path: token, expirationSeconds: 3607}}]}}
`, `apiVersion: v1
kind: Pod
metadata:
  name: app
  namespace: default
spec:
  containers:
  - name: app
    resources:
      limits:
        cpu: 500m
    volumeMounts:
    - mountPath: /etc/app
      name: config
    - mountPath: /var/run/token
      name: kube-api-access-mine
  initContainers:
  - name: init
  serviceAccountName: default
  volumes:
  - configMap:
      name: app
    name: config
  - name: kube-api-access-mine
    projected:
      sources:
      - serviceAccountToken:
          audience: vault
          path: token
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
			// Sanitized again, with the managed fields of whoever sent the fields it kept.
			recreated := parse(t, string(out))
			recreated.SetManagedFields(in.GetManagedFields())
			again, _ := Encode(Sanitize(recreated))
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
