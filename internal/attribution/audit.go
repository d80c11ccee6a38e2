package attribution

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/go-logr/logr"
)

// AuditPath is where config/audit has the API server send audit events.
const AuditPath = "/attribution/audit"

// maxAuditBytes bounds one batch of audit events. Batches are decoded one event at a time, so
// memory follows the largest event, not the batch. With --audit-webhook-truncate-enabled the API
// server keeps batches under 10 MiB and events under 100 KiB (larger ones lose their objects, so
// they attribute through admission only).
const maxAuditBytes = 64 << 20

// NewAuditHandler returns an http.Handler for the API server's audit webhook backend: a POST of an
// audit.k8s.io/v1 EventList in JSON. It records an AuditFact for each ResponseComplete event of a
// successful create, update, patch or delete of a main resource (or an update of its scale
// subresource, which writes the main resource) whose response object has a UID. The effective
// user is the impersonated user when there is one.
//
// Only the metadata that matching needs is decoded, one event at a time; object contents, Secrets'
// included, are neither kept nor logged.
func NewAuditHandler(index *Index, log logr.Logger) http.Handler {
	return &auditHandler{index: index, log: log}
}

type auditHandler struct {
	index *Index
	log   logr.Logger
	// cluster is the remote cluster the events come from; empty for the operator's own.
	cluster string
}

// auditEvent is the part of an audit.k8s.io/v1 Event that matching needs.
type auditEvent struct {
	Stage            string     `json:"stage"`
	Verb             string     `json:"verb"`
	User             auditUser  `json:"user"`
	ImpersonatedUser *auditUser `json:"impersonatedUser"`
	ObjectRef        *struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		APIGroup    string `json:"apiGroup"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	// ResponseObject is the object as stored, or a Status for most deletes.
	ResponseObject *struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name            string `json:"name"`
			Namespace       string `json:"namespace"`
			UID             string `json:"uid"`
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
		Details *struct {
			UID string `json:"uid"`
		} `json:"details"`
	} `json:"responseObject"`
	StageTimestamp time.Time `json:"stageTimestamp"`
}

type auditUser struct {
	Username string              `json:"username"`
	UID      string              `json:"uid"`
	Groups   []string            `json:"groups"`
	Extra    map[string][]string `json:"extra"`
}

var auditOperations = map[string]string{
	"create": OperationCreate,
	"update": OperationUpdate,
	"patch":  OperationUpdate,
	"delete": OperationDelete,
}

func (h *auditHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	events, facts := 0, 0
	err := decodeEventList(http.MaxBytesReader(w, r.Body, maxAuditBytes), func(ev *auditEvent) {
		events++
		if f, ok := auditFact(ev); ok {
			f.Cluster = h.cluster
			h.index.RecordAudit(f)
			facts++
		}
	})
	if err != nil {
		h.index.metrics.invalid(sourceAudit)
		h.log.Error(err, "Invalid audit event list", "events", events, "facts", facts)
		http.Error(w, "invalid EventList", http.StatusBadRequest)
		return
	}
	h.log.V(1).Info("Received audit events", "events", events, "facts", facts)
	w.WriteHeader(http.StatusOK)
}

// decodeEventList calls fn with each event of the EventList in r, decoding one at a time.
func decodeEventList(r io.Reader, fn func(*auditEvent)) error {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("reading the EventList: %w", err)
		}
		if tok != "items" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fmt.Errorf("reading the EventList's %v: %w", tok, err)
			}
			continue
		}
		if err := expectDelim(dec, '['); err != nil {
			return err
		}
		for dec.More() {
			var ev auditEvent
			if err := dec.Decode(&ev); err != nil {
				return fmt.Errorf("decoding an audit event: %w", err)
			}
			fn(&ev)
		}
		if err := expectDelim(dec, ']'); err != nil {
			return err
		}
	}
	return expectDelim(dec, '}')
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("reading the EventList: %w", err)
	}
	if tok != want {
		return errors.New("the body is not an audit.k8s.io/v1 EventList")
	}
	return nil
}

// auditFact returns the fact ev establishes, or false when it establishes none.
func auditFact(ev *auditEvent) (AuditFact, bool) {
	op, ok := auditOperations[ev.Verb]
	if !ok || ev.Stage != "ResponseComplete" || ev.ObjectRef == nil || ev.ResponseObject == nil ||
		ev.ResponseStatus == nil || ev.ResponseStatus.Code < 200 || ev.ResponseStatus.Code > 299 {
		return AuditFact{}, false
	}
	ref, resp := ev.ObjectRef, ev.ResponseObject
	if ref.Subresource != "" && (ref.Subresource != "scale" || op != OperationUpdate) {
		return AuditFact{}, false
	}
	f := AuditFact{
		Identity: Identity{
			Group: ref.APIGroup, Resource: ref.Resource,
			Namespace: ref.Namespace, Name: ref.Name,
		},
		Operation:       op,
		UID:             resp.Metadata.UID,
		ResourceVersion: resp.Metadata.ResourceVersion,
		At:              ev.StageTimestamp,
	}
	switch {
	case resp.Kind == "Status":
		f.ResourceVersion = ""
		if f.UID == "" && resp.Details != nil {
			f.UID = resp.Details.UID
		}
		if ref.APIGroup == "" && ref.Resource == "namespaces" {
			f.Namespace = "" // the request's namespace is the Namespace's own name
		}
	case resp.Metadata.Name != "":
		// The object knows its identity best: a create may carry no name (generateName), and a
		// Namespace's request has the Namespace's name as its namespace.
		f.Name, f.Namespace = resp.Metadata.Name, resp.Metadata.Namespace
	}
	if f.UID == "" {
		return AuditFact{}, false
	}
	f.User = ev.User.user()
	if ev.ImpersonatedUser != nil {
		f.User = ev.ImpersonatedUser.user()
		f.User.ImpersonatedBy = ev.User.Username
	}
	return f, true
}

func (u auditUser) user() User {
	return User{Name: u.Username, UID: u.UID, Groups: u.Groups, Extra: u.Extra}
}
