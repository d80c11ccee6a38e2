package attribution

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
)

// A replica's receivers' facts reach the leader's index through the journal stream, those
// recorded before the leader connected and those after; imported facts are not served again.
func TestJournalCarriesFactsToAnotherIndex(t *testing.T) {
	g := NewWithT(t)
	replica, leader := NewIndex(IndexOptions{}), NewIndex(IndexOptions{})
	replica.RecordAdmission(change(OperationUpdate, "h1", "alice"))
	replica.RecordAudit(AuditFact{Identity: app, Operation: OperationUpdate, UID: "u1", ResourceVersion: "9", User: User{Name: "bob"}})
	replica.RecordAudit(AuditFact{Identity: app, Operation: "CONNECT", UID: "u1", ResourceVersion: "9", User: User{Name: "nobody"}})

	refuse := true
	srv := httptest.NewServer(NewJournalHandler(replica, "replica-1", func(*http.Request) error {
		if refuse {
			return errors.New("not a replica")
		}
		return nil
	}, logr.Discard()))
	defer srv.Close()

	resp, err := http.Get(srv.URL + JournalPath) //nolint:gosec // test server
	g.Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusForbidden))

	refuse = false
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	resp, err = http.Get(srv.URL + JournalPath + "?from=0") //nolint:gosec // test server
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.Header.Get(InstanceHeader)).To(Equal("replica-1"))
	seen := make(chan uint64, 10)
	done := make(chan error, 1)
	heard := make(chan struct{}, 1000)
	go func() {
		done <- ReadJournal(ctx, resp.Body, leader, func(seq uint64) { seen <- seq }, func() { heard <- struct{}{} })
	}()
	g.Eventually(seen).Should(Receive(Equal(uint64(1))))
	g.Eventually(seen).Should(Receive(Equal(uint64(2))))
	replica.RecordAdmission(change(OperationUpdate, "h2", "carol"))
	g.Eventually(seen).Should(Receive(Equal(uint64(3))))
	g.Consistently(seen, 200*time.Millisecond).ShouldNot(Receive(), "the CONNECT fact matches nothing and is not journaled")
	for len(heard) > 0 {
		<-heard
	}
	g.Eventually(heard).WithTimeout(time.Second).Should(Receive(), "an idle stream is heard from: its heartbeat")

	g.Expect(who(leader.Lookup(Query{Identity: app, Operation: OperationUpdate, UID: "u1", ResourceVersion: "9"}))).To(Equal("bob"))
	g.Expect(who(leader.Lookup(changeQuery(OperationUpdate, "h1")))).To(Equal("alice"))
	g.Expect(who(leader.Lookup(changeQuery(OperationUpdate, "h2")))).To(Equal("carol"))
	entries, _ := leader.journal.since(0)
	g.Expect(entries).To(BeEmpty(), "the leader serves only what its own receivers recorded")

	// Resuming from an entry skips what was read.
	cancel()
	g.Eventually(done).Should(Receive())
	resp, err = http.Get(srv.URL + JournalPath + "?from=3") //nolint:gosec // test server
	g.Expect(err).NotTo(HaveOccurred())
	again := NewIndex(IndexOptions{})
	ctx2, cancel2 := context.WithCancel(t.Context())
	defer cancel2()
	go func() { _ = ReadJournal(ctx2, resp.Body, again, func(seq uint64) { seen <- seq }, nil) }()
	g.Eventually(seen).Should(Receive(Equal(uint64(3))))
	g.Consistently(seen, 200*time.Millisecond).ShouldNot(Receive())
}

func TestJournalForgetsAsTheIndexDoes(t *testing.T) {
	g := NewWithT(t)
	x := NewIndex(IndexOptions{MaxFacts: 2})
	for _, u := range []string{"a", "b", "c"} {
		x.RecordAdmission(change(OperationUpdate, u, u))
	}
	entries, _ := x.journal.since(0)
	g.Expect(entries).To(HaveLen(2))
	g.Expect(entries[0].Seq).To(Equal(uint64(2)))
}
