package attribution

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"
)

// JournalPath is where a replica serves the facts its own receivers recorded, to the leader.
const JournalPath = "/attribution/facts"

// InstanceHeader names the replica that answers JournalPath: a reader that finds its own name
// stops, and one that finds a new name starts again from the first fact.
const InstanceHeader = "Gitops-Reverser-Instance"

// JournalEntry is one fact a receiver of this replica recorded, as replicas exchange it.
type JournalEntry struct {
	Seq       uint64         `json:"seq"`
	Admission *AdmissionFact `json:"admission,omitempty"`
	Audit     *AuditFact     `json:"audit,omitempty"`
}

// journal keeps the facts this replica's receivers recorded, for as long as the Index would, so
// that whichever replica leads can take them, a failover included.
type journal struct {
	ttl   time.Duration
	max   int
	clock clock.PassiveClock

	mu      sync.Mutex
	entries []journalEntry // oldest first
	next    uint64         // the Seq of the next entry; the first is 1
	updated chan struct{}
}

type journalEntry struct {
	JournalEntry
	at time.Time
}

func newJournal(ttl time.Duration, max int, clk clock.PassiveClock) *journal {
	return &journal{ttl: ttl, max: max, clock: clk, next: 1, updated: make(chan struct{})}
}

func (j *journal) add(e JournalEntry) {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.clock.Now()
	e.Seq = j.next
	j.next++
	j.entries = append(j.entries, journalEntry{JournalEntry: e, at: now})
	drop := 0
	for drop < len(j.entries) && (len(j.entries)-drop > j.max || now.Sub(j.entries[drop].at) >= j.ttl) {
		drop++
	}
	if drop > 0 {
		j.entries = append(j.entries[:0:0], j.entries[drop:]...)
	}
	close(j.updated)
	j.updated = make(chan struct{})
}

// since returns the unexpired entries from Seq from on, and a channel closed at the next add.
func (j *journal) since(from uint64) ([]JournalEntry, <-chan struct{}) {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.clock.Now()
	// Entries are in Seq order with no gaps: the first one asked for is found by its Seq, and a
	// reader that is up to date costs nothing however long the journal is.
	start := 0
	if len(j.entries) > 0 && from > j.entries[0].Seq {
		start = int(min(from-j.entries[0].Seq, uint64(len(j.entries))))
	}
	var out []JournalEntry
	for _, e := range j.entries[start:] {
		if now.Sub(e.at) < j.ttl {
			out = append(out, e.JournalEntry)
		}
	}
	return out, j.updated
}

// Import records a fact another replica's receiver recorded. It is not journaled again: each
// replica serves only what it received itself.
func (x *Index) Import(e JournalEntry) {
	switch {
	case e.Admission != nil:
		x.recordAdmission(*e.Admission, false)
	case e.Audit != nil:
		x.recordAudit(*e.Audit, false)
	}
}

// journalHeartbeat is how often an idle journal stream says it is alive: so that a reader can
// tell a quiet replica from a dead connection, and so that the leader knows soon that a replica
// holds no fact about a change (Index.Settled). journalQuiet is how long a reader waits for
// anything before it takes the connection for dead.
const (
	journalHeartbeat = 100 * time.Millisecond
	journalQuiet     = 30 * time.Second
)

// NewJournalHandler serves this replica's journal at JournalPath as newline-delimited JSON, from
// the entry the `from` query parameter names, then each new one as it is recorded, until the
// client goes. authorize decides who may read it (facts name users): the other replicas only.
func NewJournalHandler(index *Index, instance string, authorize func(*http.Request) error, log logr.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := authorize(r); err != nil {
			log.Info("Refused a request for attribution facts", "remote", r.RemoteAddr, "reason", err.Error())
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		from, err := strconv.ParseUint(r.URL.Query().Get("from"), 10, 64)
		if err != nil {
			from = 0
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set(InstanceHeader, instance)
		w.WriteHeader(http.StatusOK)
		flusher, _ := w.(http.Flusher)
		enc := json.NewEncoder(w)
		heartbeat := time.NewTicker(journalHeartbeat)
		defer heartbeat.Stop()
		beat := false
		for {
			entries, updated := index.journal.since(from)
			for _, e := range entries {
				if err := enc.Encode(e); err != nil {
					return
				}
				from = e.Seq + 1
			}
			// A heartbeat goes after every entry recorded before it: the reader takes it to
			// mean that it has them all.
			if beat {
				if err := enc.Encode(JournalEntry{}); err != nil {
					return
				}
				beat = false
			}
			if flusher != nil {
				flusher.Flush()
			}
			select {
			case <-r.Context().Done():
				return
			case <-updated:
			case <-heartbeat.C:
				beat = true
			}
		}
	})
}

// ReadJournal imports the entries of a journal stream into index until the stream ends, an
// entry cannot be decoded, or nothing (not even a heartbeat) arrived for journalQuiet. seen is
// called with the Seq of each entry imported, heard (which may be nil) after each entry or
// heartbeat: everything the replica recorded before it sent that line is in.
func ReadJournal(ctx context.Context, body io.ReadCloser, index *Index, seen func(seq uint64), heard func()) error {
	lines := make(chan []byte)
	errs := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := append([]byte(nil), sc.Bytes()...)
			select {
			case lines <- line:
			case <-ctx.Done():
				return
			}
		}
		if err := sc.Err(); err != nil {
			errs <- err
			return
		}
		errs <- io.EOF
	}()
	defer body.Close()
	quiet := time.NewTimer(journalQuiet)
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errs:
			return err
		case <-quiet.C:
			return fmt.Errorf("no heartbeat for %s", journalQuiet)
		case line := <-lines:
			quiet.Reset(journalQuiet)
			var e JournalEntry
			if err := json.Unmarshal(line, &e); err != nil {
				return fmt.Errorf("decoding a journal entry: %w", err)
			}
			if e.Seq != 0 { // else a heartbeat
				index.Import(e)
				seen(e.Seq)
			}
			if heard != nil {
				heard()
			}
		}
	}
}
