package attribution

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
)

func TestFactsOnlyAnswerQueriesOfTheirOwnCluster(t *testing.T) {
	g := NewWithT(t)
	x := NewIndex(IndexOptions{})
	edge := AuditFact{Identity: app, Cluster: "team-a/edge", Operation: OperationUpdate, UID: "u1", ResourceVersion: "7", User: User{Name: "carol"}}
	x.RecordAudit(edge)
	local := changeQuery(OperationUpdate, "")
	g.Expect(who(x.Lookup(local))).To(Equal("-"), "the operator's own cluster")
	other := local
	other.Cluster = "team-b/edge"
	g.Expect(who(x.Lookup(other))).To(Equal("-"), "another remote cluster")
	mine := local
	mine.Cluster = "team-a/edge"
	g.Expect(who(x.Lookup(mine))).To(Equal("carol"))

	x.RecordAudit(AuditFact{Identity: app, Operation: OperationUpdate, UID: "u1", ResourceVersion: "7", User: User{Name: "alice"}})
	g.Expect(who(x.Lookup(mine))).To(Equal("-"))
	g.Expect(who(x.Lookup(local))).To(Equal("alice"))
}

const oneAuditEvent = `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"stage":"ResponseComplete","verb":"update",
"user":{"username":"carol"},"objectRef":{"resource":"configmaps","namespace":"default","name":"app"},
"responseStatus":{"code":200},"responseObject":{"kind":"ConfigMap","metadata":{"name":"app","namespace":"default","uid":"u1","resourceVersion":"7"}}}]}`

func TestTheClusterAuditReceiverNeedsTheClustersToken(t *testing.T) {
	g := NewWithT(t)
	x := NewIndex(IndexOptions{})
	tokens := map[string]string{"team-a/edge": "s3cret", "team-a/untokened": ""}
	asked := 0
	h := NewClusterAuditHandler(x, func(_ context.Context, namespace, secret string) (string, error) {
		asked++
		return tokens[namespace+"/"+secret], nil
	}, logr.Discard())
	post := func(path, token string) int {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(oneAuditEvent))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	g.Expect(post(ClusterAuditPath+"team-a/edge", "")).To(Equal(http.StatusUnauthorized))
	g.Expect(post(ClusterAuditPath+"team-a/edge", "s3cre")).To(Equal(http.StatusUnauthorized))
	g.Expect(post(ClusterAuditPath+"team-a/untokened", "")).To(Equal(http.StatusUnauthorized), "no token, no facts")
	g.Expect(post(ClusterAuditPath+"team-a/edge/extra", "s3cret")).To(Equal(http.StatusNotFound))
	g.Expect(post(ClusterAuditPath+"Team_A/edge", "s3cret")).To(Equal(http.StatusNotFound))
	q := changeQuery(OperationUpdate, "")
	q.Cluster = "team-a/edge"
	g.Expect(who(x.Lookup(q))).To(Equal("-"), "nothing recorded from refused requests")

	g.Expect(post(ClusterAuditPath+"team-a/edge", "s3cret")).To(Equal(http.StatusOK))
	g.Expect(who(x.Lookup(changeQuery(OperationUpdate, "")))).To(Equal("-"), "not the operator's own cluster")
	g.Expect(who(x.Lookup(q))).To(Equal("carol"))
	before := asked
	g.Expect(post(ClusterAuditPath+"team-a/edge", "s3cret")).To(Equal(http.StatusOK))
	g.Expect(asked).To(Equal(before), "the token is read again only after a while")
}

// Another replica's remote-cluster facts reach the leader with their cluster: the journal is
// JSON, and a fact that lost its cluster would answer the operator's own cluster's queries.
func TestAJournaledFactKeepsItsCluster(t *testing.T) {
	g := NewWithT(t)
	replica, leader := NewIndex(IndexOptions{}), NewIndex(IndexOptions{})
	replica.RecordAudit(AuditFact{Identity: app, Cluster: "team-a/edge", Operation: OperationUpdate, UID: "u1", ResourceVersion: "7", User: User{Name: "carol"}})
	entries, _ := replica.journal.since(0)
	g.Expect(entries).To(HaveLen(1))
	data, err := json.Marshal(entries[0])
	g.Expect(err).NotTo(HaveOccurred())
	var e JournalEntry
	g.Expect(json.Unmarshal(data, &e)).To(Succeed())
	leader.Import(e)
	q := changeQuery(OperationUpdate, "")
	g.Expect(who(leader.Lookup(q))).To(Equal("-"))
	q.Cluster = "team-a/edge"
	g.Expect(who(leader.Lookup(q))).To(Equal("carol"))
}
