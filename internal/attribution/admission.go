package attribution

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitops-reverser/gitops-reverser/internal/manifest"
)

// AdmissionPath is where config/webhook has the API server send admission reviews.
const AdmissionPath = "/attribution/admission"

// maxAdmissionBytes bounds an AdmissionReview: an object and its old version, each at most etcd's
// 1.5 MiB request limit, JSON-encoded, with room to spare.
const maxAdmissionBytes = 16 << 20

// NewAdmissionHandler returns an http.Handler serving admission.k8s.io/v1 AdmissionReview for a
// validating webhook. It always allows and never fails the request; it records an AdmissionFact
// for each CREATE, UPDATE or DELETE of a main resource (not a subresource) that is not a dry run.
func NewAdmissionHandler(index *Index, log logr.Logger) http.Handler {
	return &admissionHandler{index: index, log: log}
}

type admissionHandler struct {
	index *Index
	log   logr.Logger
}

func (h *admissionHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var review admissionv1.AdmissionReview
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdmissionBytes)).Decode(&review)
	if err == nil && review.Request == nil {
		err = errors.New("the AdmissionReview has no request")
	}
	if err != nil {
		h.index.metrics.invalid(sourceAdmission)
		h.log.Error(err, "Invalid admission review")
		http.Error(w, "invalid AdmissionReview", http.StatusBadRequest)
		return
	}
	req := review.Request

	// Whatever happens here, the request is allowed: a failure only costs attribution.
	if f, ok, err := admissionFact(req); err != nil {
		h.log.Error(err, "Cannot record admission fact", "operation", req.Operation,
			"group", req.Resource.Group, "resource", req.Resource.Resource, "namespace", req.Namespace, "name", req.Name)
	} else if ok {
		f.At = h.index.clock.Now()
		h.index.RecordAdmission(f)
		h.log.V(1).Info("Recorded admission fact", "operation", f.Operation, "group", f.Group,
			"resource", f.Resource, "namespace", f.Namespace, "name", f.Name, "user", f.User.Name)
	}

	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"},
		Response: &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true},
	})
}

// admissionFact returns the fact req establishes, or false when it establishes none.
func admissionFact(req *admissionv1.AdmissionRequest) (AdmissionFact, bool, error) {
	if req.SubResource != "" || (req.DryRun != nil && *req.DryRun) {
		return AdmissionFact{}, false, nil
	}
	raw := req.Object.Raw
	switch req.Operation {
	case admissionv1.Create, admissionv1.Update:
	case admissionv1.Delete:
		raw = req.OldObject.Raw
	default:
		return AdmissionFact{}, false, nil
	}
	obj, err := decodeObject(raw)
	if err != nil {
		return AdmissionFact{}, false, err
	}
	f := AdmissionFact{
		// The object knows its identity best: on CREATE the request may carry no name
		// (generateName), and for a Namespace the request's namespace is the Namespace's name.
		Identity:  Identity{Group: req.Resource.Group, Resource: req.Resource.Resource, Namespace: obj.GetNamespace(), Name: obj.GetName()},
		Operation: string(req.Operation),
		UID:       string(obj.GetUID()),
		User:      admissionUser(req.UserInfo),
	}
	if f.Name == "" {
		f.Name = req.Name
	}
	if req.Operation == admissionv1.Delete {
		return f, true, nil
	}
	data, err := manifest.Encode(manifest.Sanitize(obj))
	if err != nil {
		return AdmissionFact{}, false, err
	}
	if req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
		// An update that leaves the content as it was (kubectl apply of an unchanged manifest)
		// gives the watch nothing to attribute; its fact could only be matched by a later change
		// back to this content, and would attribute it wrongly.
		old, err := decodeObject(req.OldObject.Raw)
		if err != nil {
			return AdmissionFact{}, false, err
		}
		oldData, err := manifest.Encode(manifest.Sanitize(old))
		if err != nil {
			return AdmissionFact{}, false, err
		}
		if bytes.Equal(data, oldData) {
			return AdmissionFact{}, false, nil
		}
	}
	f.ContentHash = ContentHash(data)
	return f, true, nil
}

func decodeObject(raw []byte) (*unstructured.Unstructured, error) {
	if len(raw) == 0 {
		return nil, errors.New("the admission request carries no object")
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(raw); err != nil {
		return nil, fmt.Errorf("decoding the admitted object: %w", err)
	}
	return obj, nil
}

func admissionUser(u authenticationv1.UserInfo) User {
	user := User{Name: u.Username, UID: u.UID, Groups: u.Groups}
	if len(u.Extra) > 0 {
		user.Extra = make(map[string][]string, len(u.Extra))
		for k, v := range u.Extra {
			user.Extra[k] = []string(v)
		}
	}
	return user
}
