package attribution

import (
	"fmt"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	clocktesting "k8s.io/utils/clock/testing"
)

var app = Identity{Resource: "configmaps", Namespace: "default", Name: "app"}

func change(op, hash string, user string) AdmissionFact {
	return AdmissionFact{Identity: app, Operation: op, UID: "u1", ContentHash: hash, User: User{Name: user}}
}

func changeQuery(op, hash string) Query {
	return Query{Identity: app, Operation: op, UID: "u1", ResourceVersion: "7", ContentHash: hash}
}

// who names the user a lookup returned, or "-" for none.
func who(u User, ok bool) string {
	if !ok {
		return "-"
	}
	return u.Name
}

func TestIndexMatchesAdmissionFactsFirstInFirstOut(t *testing.T) {
	g := NewWithT(t)
	x := NewIndex(IndexOptions{})
	x.RecordAdmission(change(OperationUpdate, "h1", "alice"))
	x.RecordAdmission(change(OperationUpdate, "h1", "bob"))
	x.RecordAdmission(change(OperationUpdate, "h2", "carol"))

	g.Expect(who(x.Lookup(changeQuery(OperationCreate, "h1")))).To(Equal("-"), "another operation")
	g.Expect(who(x.Lookup(Query{Identity: Identity{Resource: "secrets", Namespace: "default", Name: "app"},
		Operation: OperationUpdate, UID: "u1", ContentHash: "h1"}))).To(Equal("-"), "another resource")
	g.Expect(who(x.Lookup(changeQuery(OperationUpdate, "h1")))).To(Equal("alice"))
	g.Expect(who(x.Lookup(changeQuery(OperationUpdate, "h1")))).To(Equal("bob"))
	g.Expect(who(x.Lookup(changeQuery(OperationUpdate, "h1")))).To(Equal("-"))
	g.Expect(who(x.Lookup(changeQuery(OperationUpdate, "h2")))).To(Equal("carol"))
}

func TestIndexPrefersAuditFacts(t *testing.T) {
	g := NewWithT(t)
	x := NewIndex(IndexOptions{})
	x.RecordAdmission(change(OperationUpdate, "h1", "alice"))
	x.RecordAudit(AuditFact{Identity: app, Operation: OperationUpdate, UID: "u1", ResourceVersion: "7", User: User{Name: "bob"}})

	g.Expect(who(x.Lookup(changeQuery(OperationUpdate, "h1")))).To(Equal("bob"))
	g.Expect(who(x.Lookup(changeQuery(OperationUpdate, "h1")))).To(Equal("alice"))
}

func TestIndexMatchesDeletes(t *testing.T) {
	g := NewWithT(t)
	x := NewIndex(IndexOptions{})
	del := Query{Identity: app, Operation: OperationDelete, UID: "u1", ResourceVersion: "9"}

	// Admission: by identity and UID.
	x.RecordAdmission(AdmissionFact{Identity: app, Operation: OperationDelete, UID: "u1", User: User{Name: "alice"}})
	g.Expect(who(x.Lookup(Query{Identity: app, Operation: OperationDelete, UID: "u2"}))).To(Equal("-"))
	g.Expect(who(x.Lookup(del))).To(Equal("alice"))

	// Audit: by UID, whatever resourceVersion either side has.
	x.RecordAudit(AuditFact{Identity: app, Operation: OperationDelete, UID: "u1", User: User{Name: "bob"}})
	g.Expect(who(x.Lookup(del))).To(Equal("bob"))

	// A delete that only marked the object attributes the update showing the mark, and is gone.
	x.RecordAudit(AuditFact{Identity: app, Operation: OperationDelete, UID: "u1", ResourceVersion: "8", User: User{Name: "carol"}})
	g.Expect(who(x.Lookup(Query{Identity: app, Operation: OperationUpdate, UID: "u1", ResourceVersion: "8"}))).To(Equal("carol"))
	g.Expect(who(x.Lookup(del))).To(Equal("-"))
	g.Expect(x.byKey).To(BeEmpty())
	g.Expect(x.order.Len()).To(BeZero())
}

func TestIndexMatchesAuditFactsByVersionWhateverTheOperation(t *testing.T) {
	g := NewWithT(t)
	x := NewIndex(IndexOptions{})
	// A PUT that created the object: verb update, seen by the watch as an addition.
	x.RecordAudit(AuditFact{Identity: app, Operation: OperationUpdate, UID: "u1", ResourceVersion: "7", User: User{Name: "alice"}})
	g.Expect(who(x.Lookup(Query{Identity: app, Operation: OperationUpdate, UID: "u1", ResourceVersion: "6"}))).To(Equal("-"))
	g.Expect(who(x.Lookup(Query{Identity: app, Operation: OperationUpdate, UID: "u0", ResourceVersion: "7"}))).To(Equal("-"))
	g.Expect(who(x.Lookup(Query{Identity: app, Operation: OperationCreate, UID: "u1", ResourceVersion: "7"}))).To(Equal("alice"))
}

func TestIndexIgnoresFactsThatCannotMatch(t *testing.T) {
	g := NewWithT(t)
	x := NewIndex(IndexOptions{})
	x.RecordAdmission(AdmissionFact{Identity: app, Operation: OperationUpdate, UID: "u1"})
	x.RecordAdmission(AdmissionFact{Identity: app, Operation: OperationDelete, ContentHash: "h"})
	x.RecordAdmission(AdmissionFact{Identity: app, Operation: "CONNECT", UID: "u1", ContentHash: "h"})
	x.RecordAudit(AuditFact{Identity: app, Operation: OperationUpdate, UID: "u1"})
	x.RecordAudit(AuditFact{Identity: app, Operation: OperationDelete, ResourceVersion: "7"})
	g.Expect(x.order.Len()).To(BeZero())
	g.Expect(x.Lookup(Query{Identity: app, Operation: OperationUpdate})).To(BeZero())
}

func TestIndexExpiresUnmatchedFacts(t *testing.T) {
	g := NewWithT(t)
	clock := clocktesting.NewFakePassiveClock(time.Unix(1_700_000_000, 0))
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	g.Expect(err).NotTo(HaveOccurred())
	x := NewIndex(IndexOptions{TTL: time.Minute, Clock: clock, Metrics: m})

	x.RecordAdmission(change(OperationUpdate, "h1", "alice"))
	clock.SetTime(clock.Now().Add(time.Minute - time.Nanosecond))
	g.Expect(who(x.Lookup(changeQuery(OperationUpdate, "h1")))).To(Equal("alice"))

	x.RecordAdmission(change(OperationUpdate, "h1", "bob"))
	x.RecordAudit(AuditFact{Identity: app, Operation: OperationUpdate, UID: "u1", ResourceVersion: "7", User: User{Name: "carol"}})
	clock.SetTime(clock.Now().Add(time.Minute))
	g.Expect(who(x.Lookup(changeQuery(OperationUpdate, "h1")))).To(Equal("-"))
	g.Expect(x.byKey).To(BeEmpty())

	g.Expect(testutil.ToFloat64(m.factsTotal.WithLabelValues("admission"))).To(Equal(2.0))
	g.Expect(testutil.ToFloat64(m.matchedTotal.WithLabelValues("admission"))).To(Equal(1.0))
	g.Expect(testutil.ToFloat64(m.expiredTotal.WithLabelValues("admission"))).To(Equal(1.0))
	g.Expect(testutil.ToFloat64(m.expiredTotal.WithLabelValues("audit"))).To(Equal(1.0))
	g.Expect(testutil.ToFloat64(m.held.WithLabelValues("admission"))).To(BeZero())
	g.Expect(testutil.CollectAndCount(reg)).To(BeNumerically(">", 0))
}

func TestIndexDropsTheOldestFactsBeyondItsCap(t *testing.T) {
	g := NewWithT(t)
	m, err := NewMetrics(prometheus.NewRegistry())
	g.Expect(err).NotTo(HaveOccurred())
	x := NewIndex(IndexOptions{MaxFacts: 3, Metrics: m})
	for i := range 5 {
		x.RecordAdmission(change(OperationUpdate, fmt.Sprint("h", i), fmt.Sprint("user", i)))
	}
	var got []string
	for i := range 5 {
		got = append(got, who(x.Lookup(changeQuery(OperationUpdate, fmt.Sprint("h", i)))))
	}
	g.Expect(got).To(Equal([]string{"-", "-", "user2", "user3", "user4"}))
	g.Expect(testutil.ToFloat64(m.droppedTotal.WithLabelValues("admission"))).To(Equal(2.0))
	g.Expect(testutil.ToFloat64(m.held.WithLabelValues("admission"))).To(BeZero())
}

func TestIndexUpdatedClosesOnTheNextFact(t *testing.T) {
	g := NewWithT(t)
	x := NewIndex(IndexOptions{})
	updated := x.Updated()
	g.Expect(updated).NotTo(BeClosed())
	x.RecordAudit(AuditFact{Operation: OperationUpdate, UID: "u1"}) // ignored: cannot match
	g.Expect(updated).NotTo(BeClosed())

	x.RecordAudit(AuditFact{Operation: OperationUpdate, UID: "u1", ResourceVersion: "7"})
	g.Expect(updated).To(BeClosed())
	g.Expect(x.Updated()).NotTo(BeClosed())
}

func TestIndexIsSafeForConcurrentUse(t *testing.T) {
	x := NewIndex(IndexOptions{MaxFacts: 50})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				hash := fmt.Sprint("h", w, "-", i%20)
				updated := x.Updated()
				x.RecordAdmission(change(OperationUpdate, hash, "alice"))
				<-updated // closed by this fact at the latest
				x.Lookup(changeQuery(OperationUpdate, hash))
			}
		})
	}
	wg.Wait()
	NewWithT(t).Expect(x.order.Len()).To(BeNumerically("<=", 50))
}
