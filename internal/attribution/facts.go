package attribution

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Operations, as admission names them; queries and facts use these.
const (
	OperationCreate = "CREATE"
	OperationUpdate = "UPDATE"
	OperationDelete = "DELETE"
)

// User is who made a change, as the API server authenticated it.
type User struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
	// ImpersonatedBy is the real user when Name was impersonated (kubectl --as); empty otherwise.
	ImpersonatedBy string
}

// Identity names one object: plural resource and API group, namespace ("" for cluster-scoped), name.
type Identity struct{ Group, Resource, Namespace, Name string }

// Query asks who made the change that produced an observed object.
type Query struct {
	Identity
	// Cluster is where the object lives: empty for the operator's own cluster, else the remote
	// cluster's name (ClusterAuditPath). Facts only answer queries of their own cluster.
	Cluster string
	// Operation is OperationCreate, OperationUpdate or OperationDelete.
	Operation string
	// UID and ResourceVersion are the watched object's (for DELETE: of the deleted object). A
	// query without a UID matches nothing.
	UID, ResourceVersion string
	// ContentHash is ContentHash of the sanitized YAML of the watched object (empty for DELETE).
	ContentHash string
}

// AdmissionFact is a write the admission webhook saw: an attempt, which may still fail.
type AdmissionFact struct {
	Identity
	Cluster   string `json:",omitempty"`
	Operation string
	// UID is the object's (for DELETE: the old object's).
	UID string
	// ContentHash is ContentHash of the sanitized YAML of the admitted object (empty for DELETE).
	ContentHash string
	User        User
	// At is when the webhook saw the request.
	At time.Time
}

// AuditFact is a completed write, as the audit webhook reported it.
type AuditFact struct {
	Identity
	Cluster   string `json:",omitempty"`
	Operation string
	// UID and ResourceVersion are the response object's. A delete answered with a Status has no
	// ResourceVersion.
	UID, ResourceVersion string
	User                 User
	// At is when the API server completed the request.
	At time.Time
}

// ContentHash returns the hash facts are matched by: hex sha256 of the sanitized YAML bytes.
func ContentHash(sanitizedYAML []byte) string {
	sum := sha256.Sum256(sanitizedYAML)
	return hex.EncodeToString(sum[:])
}
