package manifest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// exclusions are served resources that cannot be recreated as objects by design, each with why.
var exclusions = map[schema.GroupResource]string{
	{Resource: "events"}:                                                   "a record of something that happened, written by components; not desired state",
	{Group: "events.k8s.io", Resource: "events"}:                           "the same events in their newer API",
	{Resource: "bindings"}:                                                 "a virtual create-only request that binds a pod to a node; no object is stored",
	{Resource: "componentstatuses"}:                                        "a deprecated read-only probe of control plane components; not creatable",
	{Group: "authentication.k8s.io", Resource: "tokenreviews"}:             "a request the API server answers and forgets; no object is stored",
	{Group: "authentication.k8s.io", Resource: "selfsubjectreviews"}:       "a request the API server answers and forgets; no object is stored",
	{Group: "authorization.k8s.io", Resource: "subjectaccessreviews"}:      "a request the API server answers and forgets; no object is stored",
	{Group: "authorization.k8s.io", Resource: "selfsubjectaccessreviews"}:  "a request the API server answers and forgets; no object is stored",
	{Group: "authorization.k8s.io", Resource: "selfsubjectrulesreviews"}:   "a request the API server answers and forgets; no object is stored",
	{Group: "authorization.k8s.io", Resource: "localsubjectaccessreviews"}: "a request the API server answers and forgets; no object is stored",
	{Group: "certificates.k8s.io", Resource: "podcertificaterequests"}:     "created by the kubelet for a pod's projected certificate; bound to pod, node and service account UIDs no other cluster has",
	{Group: "networking.k8s.io", Resource: "ipaddresses"}:                  "allocated by the API server for each Service's cluster IP; derived state",
}

// existingObject is an object the API server creates itself, sampled as it is.
type existingObject struct {
	resource        schema.GroupResource
	namespace, name string
}

// existingObjects are bootstrapped objects worth checking as the cluster made them.
var existingObjects = []existingObject{
	{schema.GroupResource{Resource: "namespaces"}, "", "default"},
	{schema.GroupResource{Resource: "namespaces"}, "", "kube-system"},
	{schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, "", "admin"},
	{schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, "", "system:aggregate-to-edit"},
	{schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"}, "", "cluster-admin"},
	{schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "roles"}, "kube-system", "extension-apiserver-authentication-reader"},
	{schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "rolebindings"}, "kube-system", "system::extension-apiserver-authentication-reader"},
	{schema.GroupResource{Group: "flowcontrol.apiserver.k8s.io", Resource: "flowschemas"}, "", "global-default"},
	{schema.GroupResource{Group: "flowcontrol.apiserver.k8s.io", Resource: "prioritylevelconfigurations"}, "", "global-default"},
	{schema.GroupResource{Group: "scheduling.k8s.io", Resource: "priorityclasses"}, "", "system-cluster-critical"},
	{schema.GroupResource{Group: "apiregistration.k8s.io", Resource: "apiservices"}, "", "v1.apps"},
	{schema.GroupResource{Group: "networking.k8s.io", Resource: "servicecidrs"}, "", "kubernetes"},
}

// sampleNamespace holds the namespaced samples.
const sampleNamespace = "fixpoint"

// samples are minimal but realistic objects of the resources a cluster serves, created in the
// source in this order. Samples of resources the API server does not serve are left out.
const samples = `
apiVersion: v1
kind: Namespace
metadata:
  name: fixpoint
---
apiVersion: v1
kind: Namespace
metadata:
  name: fixpoint-labelled
  labels: {team: a}
  annotations: {owner: team-a@example.com}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: fixpoint, labels: {app: web}}
data: {LOG_LEVEL: debug, config.yaml: "port: 8080\n"}
binaryData: {blob: AAEC}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: frozen, namespace: fixpoint}
data: {key: value}
immutable: true
---
apiVersion: v1
kind: Secret
metadata: {name: credentials, namespace: fixpoint}
type: Opaque
stringData: {password: hunter2}
data: {username: YWRtaW4=}
---
apiVersion: v1
kind: Secret
metadata: {name: registry, namespace: fixpoint}
type: kubernetes.io/dockerconfigjson
data: {.dockerconfigjson: eyJhdXRocyI6e319}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: builder, namespace: fixpoint}
imagePullSecrets: [{name: registry}]
automountServiceAccountToken: false
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: fixpoint}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: fixpoint}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-nodeport, namespace: fixpoint}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: web-fixed-nodeport, namespace: fixpoint}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: http, port: 80, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-lb, namespace: fixpoint}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: web}
  ports: [{name: https, port: 443}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: fixpoint}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432}]
---
apiVersion: v1
kind: Service
metadata: {name: external, namespace: fixpoint}
spec:
  type: ExternalName
  externalName: db.example.com
---
apiVersion: v1
kind: Endpoints
metadata: {name: legacy, namespace: fixpoint}
subsets:
- addresses: [{ip: 10.1.2.3}]
  ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: legacy-abc
  namespace: fixpoint
  labels: {kubernetes.io/service-name: legacy}
addressType: IPv4
endpoints: [{addresses: [10.1.2.3], conditions: {ready: true}}]
ports: [{name: http, port: 8080, protocol: TCP}]
---
# Before the pod, so that the LimitRanger admission plugin defaults the pod's limits.
apiVersion: v1
kind: LimitRange
metadata: {name: defaults, namespace: fixpoint}
spec:
  limits: [{type: Container, default: {cpu: 500m}, defaultRequest: {cpu: 100m}}]
---
apiVersion: v1
kind: Pod
metadata: {name: standalone, namespace: fixpoint, labels: {app: debug}}
spec:
  containers:
  - name: shell
    image: busybox:1.36
    command: [sleep, infinity]
    env: [{name: MODE, value: debug}]
    resources: {requests: {cpu: 10m, memory: 16Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: projected, namespace: fixpoint}
spec:
  serviceAccountName: builder
  automountServiceAccountToken: false
  containers:
  - name: client
    image: busybox:1.36
    volumeMounts: [{name: kube-api-access-mine, mountPath: /var/run/token, readOnly: true}]
  volumes:
  - name: kube-api-access-mine
    projected:
      sources: [{serviceAccountToken: {path: token, audience: vault, expirationSeconds: 600}}]
---
apiVersion: v1
kind: PodTemplate
metadata: {name: worker, namespace: fixpoint}
template:
  metadata: {labels: {app: worker}}
  spec:
    containers: [{name: worker, image: busybox:1.36}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: fixpoint}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
  storageClassName: fast
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: prebound, namespace: fixpoint}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 5Gi}}
  storageClassName: fast
  volumeName: local-data
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: local-data}
spec:
  capacity: {storage: 5Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: fast
  hostPath: {path: /srv/data}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: reserved}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  claimRef: {name: data, namespace: fixpoint}
  nfs: {server: nfs.example.com, path: /exports/reserved}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: legacy-web, namespace: fixpoint}
spec:
  replicas: 2
  selector: {app: legacy-web}
  template:
    metadata: {labels: {app: legacy-web}}
    spec:
      containers: [{name: web, image: nginx:1.27}]
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: quota, namespace: fixpoint}
spec:
  hard: {pods: "20", requests.cpu: "4"}
---
apiVersion: v1
kind: Node
metadata:
  name: worker-1
  labels: {kubernetes.io/hostname: worker-1, node-role.kubernetes.io/worker: ""}
spec:
  taints: [{key: dedicated, value: gpu, effect: NoSchedule}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: fixpoint, labels: {app: web}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: http}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: fixpoint}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: postgres, image: postgres:17, ports: [{containerPort: 5432}]}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 10Gi}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: fixpoint}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      tolerations: [{operator: Exists}]
      containers: [{name: agent, image: busybox:1.36}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: bare, namespace: fixpoint}
spec:
  replicas: 1
  selector: {matchLabels: {app: bare}}
  template:
    metadata: {labels: {app: bare}}
    spec:
      containers: [{name: bare, image: busybox:1.36}]
---
apiVersion: apps/v1
kind: ControllerRevision
metadata: {name: agent-rev-1, namespace: fixpoint}
revision: 1
data: {spec: {template: {metadata: {labels: {app: agent}}}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: fixpoint}
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: busybox:1.36, command: [echo, done]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: manual, namespace: fixpoint}
spec:
  manualSelector: true
  selector: {matchLabels: {job: manual}}
  template:
    metadata: {labels: {job: manual}}
    spec:
      restartPolicy: Never
      containers: [{name: manual, image: busybox:1.36}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: fixpoint}
spec:
  schedule: "0 3 * * *"
  timeZone: Europe/Amsterdam
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: backup, image: busybox:1.36}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: fixpoint}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 10
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: fixpoint}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: fixpoint}
spec:
  ingressClassName: nginx
  tls: [{hosts: [web.example.com], secretName: web-tls}]
  rules:
  - host: web.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: web, port: {name: http}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: fixpoint}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: proxy}}}]
    ports: [{port: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: ServiceCIDR
metadata: {name: extra}
spec: {cidrs: [10.200.0.0/24]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: fixpoint}
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader, namespace: fixpoint}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects: [{kind: ServiceAccount, name: builder, namespace: fixpoint}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: fixpoint-viewer}
rules:
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: fixpoint-aggregate}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {fixpoint/aggregate: "true"}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: fixpoint-viewer}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: fixpoint-viewer}
subjects: [{kind: Group, name: viewers, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: fast}
provisioner: example.com/fast
parameters: {type: ssd}
reclaimPolicy: Retain
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: true
---
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata: {name: fast.example.com}
spec:
  attachRequired: false
  podInfoOnMount: true
  volumeLifecycleModes: [Persistent]
---
apiVersion: storage.k8s.io/v1
kind: CSINode
metadata: {name: worker-1}
spec:
  drivers: [{name: fast.example.com, nodeID: worker-1, topologyKeys: [topology.example.com/zone]}]
---
apiVersion: storage.k8s.io/v1
kind: VolumeAttachment
metadata: {name: local-data-worker-1}
spec:
  attacher: fast.example.com
  nodeName: worker-1
  source: {persistentVolumeName: local-data}
---
apiVersion: storage.k8s.io/v1
kind: CSIStorageCapacity
metadata: {name: fast-zone-a, namespace: fixpoint}
storageClassName: fast
capacity: 100Gi
nodeTopology: {matchLabels: {topology.example.com/zone: a}}
---
apiVersion: storage.k8s.io/v1
kind: VolumeAttributesClass
metadata: {name: gold}
driverName: fast.example.com
parameters: {iops: "3000"}
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: batch-low}
value: 100
preemptionPolicy: Never
description: Batch work that may wait.
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: gvisor}
handler: runsc
overhead: {podFixed: {memory: 64Mi}}
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: leader, namespace: fixpoint}
spec: {holderIdentity: pod-a, leaseDurationSeconds: 15}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: fixpoint-validator}
webhooks:
- name: validate.example.com
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Ignore
  clientConfig: {url: "https://validator.example.com/validate"}
  rules:
  - {apiGroups: [example.com], apiVersions: [v1], operations: [CREATE], resources: [widgets]}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: fixpoint-mutator}
webhooks:
- name: mutate.example.com
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Ignore
  clientConfig:
    service: {name: mutator, namespace: fixpoint, path: /mutate}
  rules:
  - {apiGroups: [example.com], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [widgets]}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: replica-limit}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - {apiGroups: [example.com], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [widgets]}
  validations:
  - expression: "object.spec.replicas <= 5"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: replica-limit}
spec:
  policyName: replica-limit
  validationActions: [Deny]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata: {name: add-label}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [example.com], apiVersions: [v1], operations: [CREATE], resources: [widgets]}
  reinvocationPolicy: Never
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration: {expression: "Object{metadata: Object.metadata{labels: {'mutated': 'true'}}}"}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicyBinding
metadata: {name: add-label}
spec: {policyName: add-label}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties: {replicas: {type: integer}}
---
apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata: {name: alice}
spec:
  signerName: example.com/client
  usages: [digital signature, client auth]
  expirationSeconds: 86400
  request: CSR_PLACEHOLDER
---
apiVersion: certificates.k8s.io/v1
kind: ClusterTrustBundle
metadata: {name: example.com:client:roots}
spec:
  signerName: example.com/client
  trustBundle: CTB_PLACEHOLDER
---
apiVersion: storagemigration.k8s.io/v1
kind: StorageVersionMigration
metadata: {name: secrets-to-v1}
spec:
  resource: {group: "", resource: secrets}
---
apiVersion: resource.k8s.io/v1
kind: DeviceTaintRule
metadata: {name: gpu-0-maintenance}
spec:
  deviceSelector: {driver: gpu.example.com, pool: worker-1, device: gpu-0}
  taint: {key: example.com/maintenance, value: planned, effect: NoSchedule}
---
apiVersion: resource.k8s.io/v1
kind: DeviceClass
metadata: {name: gpu.example.com}
spec:
  selectors:
  - cel: {expression: "device.driver == 'gpu.example.com'"}
---
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata: {name: gpu, namespace: fixpoint}
spec:
  devices:
    requests:
    - name: gpu
      exactly: {deviceClassName: gpu.example.com}
---
apiVersion: resource.k8s.io/v1
kind: ResourceClaimTemplate
metadata: {name: gpu, namespace: fixpoint}
spec:
  spec:
    devices:
      requests:
      - name: gpu
        exactly: {deviceClassName: gpu.example.com, allocationMode: ExactCount, count: 1}
---
apiVersion: resource.k8s.io/v1
kind: ResourceSlice
metadata: {name: worker-1-gpu}
spec:
  driver: gpu.example.com
  nodeName: worker-1
  pool: {name: worker-1, generation: 1, resourceSliceCount: 1}
  devices:
  - name: gpu-0
    taints: [{key: example.com/unhealthy, effect: NoSchedule}]
`

// sampleObjects parses the samples, filling in what must be generated.
func sampleObjects() ([]*unstructured.Unstructured, error) {
	csr, bundle, err := certificates()
	if err != nil {
		return nil, err
	}
	quoted, err := json.Marshal(bundle) // a JSON string is a YAML double-quoted scalar
	if err != nil {
		return nil, err
	}
	docs := strings.NewReplacer("CSR_PLACEHOLDER", csr, "CTB_PLACEHOLDER", string(quoted)).Replace(samples)
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(docs, "\n---\n") {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}

// certificates returns a base64 PEM certificate request, as a CSR's spec.request holds, and a
// PEM self-signed CA certificate, as a ClusterTrustBundle's spec.trustBundle holds.
func certificates() (csr, bundle string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader,
		&x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice", Organization: []string{"team-a"}}}, key)
	if err != nil {
		return "", "", err
	}
	csr = base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "example root"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err = x509.CreateCertificate(rand.Reader, ca, ca, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	return csr, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), nil
}
