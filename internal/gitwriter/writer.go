package gitwriter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-logr/logr"
	"k8s.io/utils/clock"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

// Config configures a Writer. The zero values of the optional fields work.
type Config struct {
	URL         string
	Branch      string
	Credentials Credentials
	Push        PushPolicy
	// Committer is written as the committer of every commit unless a change names its own.
	Committer Signature
	// WorkDir holds the Writer's local repository; it is emptied at start.
	WorkDir string
	Signer  Signer

	// MaxPending is how many unpushed commits the Writer keeps before Commit waits. Default
	// 100,000 (a few tens of MiB of paths and messages; contents are spilled to disk).
	MaxPending int
	// SpillBytes is how much object content stays in memory before it moves to disk.
	SpillBytes int
	// RetryMin and RetryMax bound the backoff between failed attempts (default 1s and 1m).
	RetryMin, RetryMax time.Duration
	// NetworkTimeout bounds every fetch and push (default 2m).
	NetworkTimeout time.Duration
	// HistoryDepth is how many commits of the branch the first fetch brings, for History
	// (default DefaultHistoryDepth).
	HistoryDepth int

	Clock   clock.Clock
	Log     logr.Logger
	Metrics *Metrics
	// OnStatus is called from the Writer's goroutine whenever its Status's reason or message
	// changes (not for the commits and pushes that change only its counts and tips).
	OnStatus func(Status)
	// Remote replaces the go-git transport.
	Remote Remote
}

// Result is what Commit made of a change.
type Result struct {
	// Commit is the new commit, or the current tip when the change changed nothing.
	Commit string
	// Changed is false when the files already held what the change wrote.
	Changed bool
}

type commitRequest struct {
	change Change
	reply  chan commitReply
}

type commitReply struct {
	result Result
	err    error
}

type pendingObject struct {
	hash plumbing.Hash
	typ  plumbing.ObjectType
}

// Writer writes one branch of one repository. All its state is owned by the goroutine of Run;
// Commit, Flush and Status talk to it through channels and a locked status copy.
type Writer struct {
	cfg    Config
	log    logr.Logger
	store  *objectStore
	remote Remote
	clock  clock.Clock

	requests        chan commitRequest
	flushes         chan chan error
	reconfigures    chan reconfigureRequest
	filesRequests   chan filesRequest
	readRequests    chan readRequest
	historyRequests chan historyRequest
	refreshes       chan refreshRequest
	network         chan networkResult

	// Owned by Run's goroutine.
	head           *head
	remoteTip      plumbing.Hash // where the remote branch is, as far as we know; zero: absent
	synced         bool          // remoteTip and head's base were read from the remote
	reachable      bool          // the last network operation reached the remote
	pending        []*pendingCommit
	oldestPending  time.Time
	pendingObjects []pendingObject
	pendingSet     map[plumbing.Hash]struct{}
	deltas         map[plumbing.Hash]treeDelta // of pending trees
	inFlight       bool
	retired        []io.Closer // replaced remotes to close once the push under way ends
	failures       int
	retryAt        time.Time
	flushWaiters   []chan error
	refreshWaiters []refreshRequest

	mu     sync.Mutex
	status Status
}

// New prepares a Writer; Run starts it.
func New(cfg Config) (*Writer, error) {
	if cfg.URL == "" || cfg.Branch == "" || cfg.WorkDir == "" {
		return nil, errors.New("a Writer needs a URL, a branch and a work directory")
	}
	if cfg.Committer.Name == "" {
		cfg.Committer = Signature{Name: "gitops-reverser", Email: "gitops-reverser@configbutler.ai"}
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 100_000
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = time.Minute
	}
	if cfg.NetworkTimeout <= 0 {
		cfg.NetworkTimeout = 2 * time.Minute
	}
	if cfg.HistoryDepth <= 0 {
		cfg.HistoryDepth = DefaultHistoryDepth
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Log.GetSink() == nil {
		cfg.Log = logr.Discard()
	}
	if err := os.RemoveAll(cfg.WorkDir); err != nil {
		return nil, fmt.Errorf("emptying work directory %s: %w", cfg.WorkDir, err)
	}
	repoDir := filepath.Join(cfg.WorkDir, "repo.git")
	if err := os.MkdirAll(repoDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating work directory %s: %w", cfg.WorkDir, err)
	}
	w := &Writer{
		cfg:             cfg,
		log:             cfg.Log.WithValues("repository", cfg.URL, "branch", cfg.Branch),
		store:           openObjectStore(repoDir, cfg.SpillBytes),
		clock:           cfg.Clock,
		requests:        make(chan commitRequest, 64),
		flushes:         make(chan chan error),
		reconfigures:    make(chan reconfigureRequest),
		filesRequests:   make(chan filesRequest),
		readRequests:    make(chan readRequest),
		historyRequests: make(chan historyRequest),
		refreshes:       make(chan refreshRequest),
		network:         make(chan networkResult, 1),
		pendingSet:      map[plumbing.Hash]struct{}{},
		deltas:          map[plumbing.Hash]treeDelta{},
		status:          Status{Reason: configv1alpha1.ReasonProgressing, Message: "connecting"},
	}
	w.head = &head{tree: newTree(w.store, plumbing.ZeroHash)}
	w.remote = cfg.Remote
	if w.remote == nil {
		remote, err := w.newRemote()
		if err != nil {
			return nil, err
		}
		w.remote = remote
	}
	return w, nil
}

// Commit hands a change to the Writer and waits until it is a local commit (not until it is
// pushed). It waits longer while MaxPending commits are unpushed.
func (w *Writer) Commit(ctx context.Context, change Change) (Result, error) {
	if err := change.Validate(); err != nil {
		return Result{}, fmt.Errorf("invalid change: %w", err)
	}
	req := commitRequest{change: change, reply: make(chan commitReply, 1)}
	select {
	case w.requests <- req:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	select {
	case r := <-req.reply:
		return r.result, r.err
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// Flush pushes every pending commit now, whatever the policy, and waits until they are on the
// remote or ctx ends.
func (w *Writer) Flush(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case w.flushes <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	for {
		select {
		case err := <-done:
			if err == nil {
				return nil
			}
			// Not there yet: keep waiting while the Writer retries, unless ctx ends.
			done = make(chan error, 1)
			select {
			case w.flushes <- done:
			case <-ctx.Done():
				return fmt.Errorf("flushing: %w (last error: %v)", ctx.Err(), err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Status returns a copy of the Writer's status.
func (w *Writer) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}
