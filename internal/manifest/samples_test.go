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
	"os"
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
// samplesFile holds them, "---" between documents.
const samplesFile = "testdata/samples.yaml"

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
	samples, err := os.ReadFile(samplesFile)
	if err != nil {
		return nil, err
	}
	docs := strings.NewReplacer("CSR_PLACEHOLDER", csr, "CTB_PLACEHOLDER", string(quoted)).Replace(string(samples))
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
