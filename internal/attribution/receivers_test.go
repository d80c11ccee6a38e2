package attribution

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
)

// The API server's own traffic exercises the receivers in the other tests; these cover what a
// test cluster cannot easily produce.
func TestAuditEventsEstablishFacts(t *testing.T) {
	const (
		alice   = `"user":{"username":"alice","groups":["devs","system:authenticated"]}`
		cmRef   = `"objectRef":{"resource":"configmaps","namespace":"ns","name":"cm","apiVersion":"v1"}`
		cmResp  = `"responseObject":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm","namespace":"ns","uid":"u1","resourceVersion":"7"},"data":{"k":"v"}}`
		ok      = `"responseStatus":{"metadata":{},"code":200}`
		created = `"responseStatus":{"metadata":{},"code":201}`
		done    = `"stage":"ResponseComplete"`
	)
	cmIdentity := Identity{Resource: "configmaps", Namespace: "ns", Name: "cm"}
	aliceUser := User{Name: "alice", Groups: []string{"devs", "system:authenticated"}}
	cases := []struct {
		name  string
		event string
		want  *AuditFact
	}{
		{"create", `{` + done + `,"verb":"create",` + alice + `,` + cmRef + `,` + created + `,` + cmResp + `}`,
			&AuditFact{Identity: cmIdentity, Operation: OperationCreate, UID: "u1", ResourceVersion: "7", User: aliceUser}},
		{"create with a generated name", `{` + done + `,"verb":"create",` + alice + `,"objectRef":{"resource":"configmaps","namespace":"ns"},` + created + `,` + cmResp + `}`,
			&AuditFact{Identity: cmIdentity, Operation: OperationCreate, UID: "u1", ResourceVersion: "7", User: aliceUser}},
		{"impersonated patch", `{` + done + `,"verb":"patch","user":{"username":"admin"},"impersonatedUser":{"username":"bob","extra":{"k":["v"]}},` + cmRef + `,` + ok + `,` + cmResp + `}`,
			&AuditFact{Identity: cmIdentity, Operation: OperationUpdate, UID: "u1", ResourceVersion: "7",
				User: User{Name: "bob", Extra: map[string][]string{"k": {"v"}}, ImpersonatedBy: "admin"}}},
		{"delete answered with a Status", `{` + done + `,"verb":"delete",` + alice + `,` + cmRef + `,` + ok +
			`,"responseObject":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","details":{"name":"cm","kind":"configmaps","uid":"u1"}}}`,
			&AuditFact{Identity: cmIdentity, Operation: OperationDelete, UID: "u1", User: aliceUser}},
		{"delete of a namespace", `{` + done + `,"verb":"delete",` + alice + `,"objectRef":{"resource":"namespaces","namespace":"team","name":"team"},` + ok +
			`,"responseObject":{"kind":"Status","metadata":{},"details":{"name":"team","kind":"namespaces","uid":"u2"}}}`,
			&AuditFact{Identity: Identity{Resource: "namespaces", Name: "team"}, Operation: OperationDelete, UID: "u2", User: aliceUser}},
		{"scale", `{` + done + `,"verb":"patch",` + alice + `,"objectRef":{"resource":"deployments","namespace":"ns","name":"d","apiGroup":"apps","subresource":"scale"},` + ok +
			`,"responseObject":{"kind":"Scale","metadata":{"name":"d","namespace":"ns","uid":"u3","resourceVersion":"9"},"spec":{"replicas":3}}}`,
			&AuditFact{Identity: Identity{Group: "apps", Resource: "deployments", Namespace: "ns", Name: "d"}, Operation: OperationUpdate, UID: "u3", ResourceVersion: "9", User: aliceUser}},
		{"status", `{` + done + `,"verb":"update",` + alice + `,"objectRef":{"resource":"configmaps","namespace":"ns","name":"cm","subresource":"status"},` + ok + `,` + cmResp + `}`, nil},
		{"token", `{` + done + `,"verb":"create",` + alice + `,"objectRef":{"resource":"serviceaccounts","namespace":"ns","name":"sa","subresource":"token"},` + created + `,` + cmResp + `}`, nil},
		{"conflict", `{` + done + `,"verb":"update",` + alice + `,` + cmRef + `,"responseStatus":{"code":409},` + cmResp + `}`, nil},
		{"not complete", `{"stage":"ResponseStarted","verb":"update",` + alice + `,` + cmRef + `,` + ok + `,` + cmResp + `}`, nil},
		{"metadata level", `{` + done + `,"verb":"update",` + alice + `,` + cmRef + `,` + ok + `}`, nil},
		{"read", `{` + done + `,"verb":"get",` + alice + `,` + cmRef + `,` + ok + `,` + cmResp + `}`, nil},
		{"no uid", `{` + done + `,"verb":"create",` + alice + `,` + cmRef + `,` + created + `,"responseObject":{"kind":"Status","metadata":{},"status":"Success"}}`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			var ev auditEvent
			g.Expect(json.Unmarshal([]byte(tc.event), &ev)).To(Succeed())
			f, ok := auditFact(&ev)
			if tc.want == nil {
				g.Expect(ok).To(BeFalse())
				return
			}
			g.Expect(ok).To(BeTrue())
			g.Expect(f).To(Equal(*tc.want))
		})
	}
}

func TestAuditHandlerDecodesEventLists(t *testing.T) {
	g := NewWithT(t)
	m, err := NewMetrics(prometheus.NewRegistry())
	g.Expect(err).NotTo(HaveOccurred())
	x := NewIndex(IndexOptions{Metrics: m})
	h := NewAuditHandler(x, logr.Discard())

	body := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` +
		`{"stage":"ResponseComplete","verb":"create","user":{"username":"alice"},"objectRef":{"resource":"configmaps","namespace":"ns","name":"a"},` +
		`"responseStatus":{"code":201},"responseObject":{"kind":"ConfigMap","metadata":{"uid":"u1","resourceVersion":"7"}}},` +
		`{"stage":"ResponseComplete","verb":"get","user":{"username":"alice"}}]}`
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, AuditPath, strings.NewReader(body)))
	g.Expect(rec.Code).To(Equal(http.StatusOK))
	g.Expect(who(x.Lookup(Query{Operation: OperationCreate, UID: "u1", ResourceVersion: "7"}))).To(Equal("alice"))

	for _, bad := range []string{``, `[]`, `{"items":{}}`, `{"items":[{"verb":1}]}`, `{"items":[]`} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, AuditPath, strings.NewReader(bad)))
		g.Expect(rec.Code).To(Equal(http.StatusBadRequest), bad)
	}
	g.Expect(testutil.ToFloat64(m.invalidTotal.WithLabelValues("audit"))).To(Equal(5.0))
}

func TestAdmissionHandlerAlwaysAllows(t *testing.T) {
	g := NewWithT(t)
	x := NewIndex(IndexOptions{})
	h := NewAdmissionHandler(x, logr.Discard())
	review := func(req string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		body := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":` + req + `}`
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, AdmissionPath, strings.NewReader(body)))
		return rec
	}
	allowed := func(rec *httptest.ResponseRecorder, uid string) {
		g.Expect(rec.Code).To(Equal(http.StatusOK))
		var resp admissionv1.AdmissionReview
		g.Expect(json.Unmarshal(rec.Body.Bytes(), &resp)).To(Succeed())
		g.Expect(resp.APIVersion).To(Equal("admission.k8s.io/v1"))
		g.Expect(resp.Kind).To(Equal("AdmissionReview"))
		g.Expect(resp.Response.UID).To(BeEquivalentTo(uid))
		g.Expect(resp.Response.Allowed).To(BeTrue())
	}

	// An object that cannot be decoded is allowed, and recorded as nothing.
	allowed(review(`{"uid":"r1","operation":"CREATE","resource":{"version":"v1","resource":"configmaps"},"object":{"metadata":[]}}`), "r1")
	// So is a subresource.
	allowed(review(`{"uid":"r2","operation":"UPDATE","resource":{"version":"v1","resource":"configmaps"},"subResource":"status",
		"object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","uid":"u1"}}}`), "r2")
	g.Expect(x.order.Len()).To(BeZero())

	g.Expect(review(`null`).Code).To(Equal(http.StatusBadRequest))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, AdmissionPath, nil))
	g.Expect(rec.Code).To(Equal(http.StatusMethodNotAllowed))
}
