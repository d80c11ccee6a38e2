package capture

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/attribution"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/manifest"
	"github.com/gitops-reverser/gitops-reverser/internal/secrets"
)

// objectPath is where obj of src goes below folder: `<name>.sops.yaml` when it is sensitive.
func objectPath(folder string, src *Source, obj named, sensitive bool) (string, error) {
	suffix := ".yaml"
	if sensitive {
		suffix = ".sops.yaml"
	}
	return manifest.Path(folder, src.Resource.GroupResource(), obj.GetNamespace(), obj.GetName(), suffix)
}

// named is what an object's path is made of: an Unstructured, or a watch's Object.
type named interface {
	GetNamespace() string
	GetName() string
}

// render is the file content of obj: sanitized, as YAML.
func render(obj *unstructured.Unstructured) ([]byte, error) {
	return manifest.Encode(manifest.Sanitize(obj))
}

// query describes c for attribution.
func (t *target) query(c *change) attribution.Query {
	src := t.sources[c.source]
	q := attribution.Query{
		Identity:        attribution.Identity{Namespace: c.state.GetNamespace(), Name: c.state.GetName()},
		Operation:       string(c.op),
		UID:             string(c.state.GetUID()),
		ResourceVersion: c.state.GetResourceVersion(),
	}
	if src != nil {
		q.Group, q.Resource = src.Resource.Group, src.Resource.Resource
	}
	if c.op != configv1alpha1.OperationDelete {
		if obj, err := c.state.Decode(); err == nil {
			if data, err := render(obj); err == nil {
				q.ContentHash = attribution.ContentHash(data)
			}
		}
	}
	return q
}

// drain commits every queued change that is ready, oldest object first, and returns when the
// earliest waiting one gives up waiting for its author.
func (t *target) drain(ctx context.Context) time.Time {
	t.mu.Lock()
	paths := t.queue.paths()
	t.mu.Unlock()
	var next time.Time
	for _, path := range paths {
		for ctx.Err() == nil {
			t.mu.Lock()
			c, ok := t.queue.head(path)
			if !ok {
				t.mu.Unlock()
				break
			}
			src := t.sources[c.source]
			folder := t.current.Folder
			t.mu.Unlock()
			waitUntil, err := t.process(ctx, path, folder, src, c)
			t.mu.Lock()
			if !waitUntil.IsZero() && err == nil {
				t.queue.release(path)
				t.mu.Unlock()
				if next.IsZero() || waitUntil.Before(next) {
					next = waitUntil
				}
				break
			}
			if err != nil && ctx.Err() != nil {
				t.queue.release(path) // stopping: the next start reconciles
				t.mu.Unlock()
				return time.Time{}
			}
			t.queue.pop(path)
			if c.replayed {
				t.replayLeft--
			}
			queued, held := t.queue.total, len(t.held)
			t.mu.Unlock()
			t.p.opts.Metrics.setQueued(t.name, queued, held)
			if err != nil {
				t.p.opts.Metrics.fail(t.name)
				t.log.Error(err, "Change could not be committed; the next reconcile retries it", "path", path)
				t.requestReconcile("a change failed")
			}
		}
	}
	return next
}

// notSyncedRetry is how soon a change that waits for the writer to read the remote again is
// looked at again.
const notSyncedRetry = 250 * time.Millisecond

// process commits one change, or says until when it waits (for its author, or for the writer to
// read the remote again).
func (t *target) process(ctx context.Context, path, folder string, src *Source, c *change) (time.Time, error) {
	if src == nil {
		// Its rules are gone: whatever happened to the object, a reconcile settles its file.
		t.requestReconcile("rules changed")
		return time.Time{}, nil
	}
	obj, err := c.state.Decode()
	if err != nil {
		return time.Time{}, err
	}
	gr := src.Resource.GroupResource()
	sensitive := t.p.opts.Sensitive(gr)
	t.mu.Lock()
	keys := t.current.Encryption
	excluded := t.current.excluded(gr, obj.GetNamespace(), obj.GetName())
	t.mu.Unlock()
	if sensitive && keys == nil {
		t.hold(path, c)
		return time.Time{}, nil
	}
	var nsLabels map[string]string
	if ns := obj.GetNamespace(); ns != "" {
		nsLabels = t.p.ns.of(ns)
	}
	sel := selection{}
	if !excluded {
		sel = selectFor(src.Rules, gr.Resource, obj, nsLabels)
	}
	if c.op != configv1alpha1.OperationDelete {
		if sel, err = t.exceptExcluded(ctx, src, obj, sel); err != nil {
			return time.Time{}, err
		}
	}
	if sel.claimed {
		return time.Time{}, nil // another direction's object: its file is never written or removed here
	}
	if sel.split != nil {
		return t.processSplit(ctx, path, folder, src, c, obj, sel, sensitive)
	}
	deletable := false
	for _, r := range src.Rules {
		deletable = deletable || (r.Captures() && r.Allows(configv1alpha1.OperationDelete))
	}
	selected := sel.captured
	allowed := map[configv1alpha1.OperationType]bool{
		configv1alpha1.OperationCreate: sel.create, configv1alpha1.OperationUpdate: sel.update, configv1alpha1.OperationDelete: sel.delete,
	}[c.op]
	info := commitInfo{
		Operation: string(c.op), Resource: src.Resource, Namespace: obj.GetNamespace(), Name: obj.GetName(),
		ResourceVersion: obj.GetResourceVersion(), Cluster: t.p.opts.Cluster,
	}
	op := gitwriter.FileOp{Path: path}
	_, inGit := t.known[path]
	switch {
	case c.op == configv1alpha1.OperationDelete:
		if !selected || !allowed || !inGit {
			return time.Time{}, nil
		}
		op.Delete = true
	case selected:
		if !allowed {
			return time.Time{}, nil
		}
		// The cluster's state says capture, but Git may hold the object as another direction's
		// (a label changed in the cluster, which that direction puts back): Git decides.
		if scope, _, ok := layoutPath(folder, path); ok && inGit {
			if claimed, err := t.claimedInGit(ctx, src, scope, path); err != nil {
				return t.p.opts.Clock.Now().Add(notSyncedRetry), nil
			} else if claimed {
				return time.Time{}, nil
			}
		}
		data, err := render(obj)
		if err != nil {
			return time.Time{}, err
		}
		if sensitive {
			if data, err = t.encrypt(ctx, path, data, *keys); err != nil || data == nil {
				return time.Time{}, err // nil: the plaintext did not change
			}
		}
		if t.known[path] == gitwriter.BlobHash(data) {
			return time.Time{}, nil // status-only or metadata the sanitizer removes
		}
		op.Data = data
	default:
		// The object left the selection (a label changed): its file goes, as a delete would,
		// unless Git holds it as another direction's object.
		if !inGit || !deletable {
			return time.Time{}, nil
		}
		if scope, _, ok := layoutPath(folder, path); ok {
			if claimed, err := t.claimedInGit(ctx, src, scope, path); err != nil {
				return t.p.opts.Clock.Now().Add(notSyncedRetry), nil
			} else if claimed {
				return time.Time{}, nil
			}
		}
		op.Delete, info.NoLongerSelected = true, true
	}
	return t.commitChange(ctx, path, c, op, info, sel.excludedUsers)
}

// commitChange commits op for change c once its author is known, or says until when it waits
// for the author. path is the change's queue key, op.Path the file it writes. A change by one of
// the excluded users is not committed.
func (t *target) commitChange(ctx context.Context, path string, c *change, op gitwriter.FileOp, info commitInfo, excluded []string) (time.Time, error) {
	now := t.p.opts.Clock.Now()
	user, found := t.attribute(c)
	// A change waits for its author only while one can still arrive: never with attribution
	// off, and not once every fact about it is in (an admission fact is recorded before the
	// API server writes, so before the watch delivers the change).
	if deadline := c.seen.Add(t.p.opts.AttributionWait); !found && t.p.opts.Attribution != nil && now.Before(deadline) {
		settled, askAgain := t.p.opts.Attribution.Settled(c.seen)
		if !settled {
			if !askAgain.IsZero() && askAgain.Before(deadline) {
				return askAgain, nil
			}
			return deadline, nil
		}
	}
	if found && slices.Contains(excluded, user.Name) {
		t.log.V(1).Info("Not captured: the change was made by an excluded writer", "path", path, "user", user.Name)
		return time.Time{}, nil
	}
	if found {
		info.User = &user
	} else {
		t.p.opts.Metrics.unattributedCommit(t.name)
	}
	info.When = c.seen
	for _, q := range c.earlier {
		if u, ok := t.lookup(q); ok {
			info.Earlier = append(info.Earlier, u)
		}
	}
	info.Coalesced, info.HistoryLost = len(c.earlier)+1, c.folded
	info.Target, info.ClusterID, info.Watermark = t.name, t.p.opts.ClusterID, t.watermark(c)
	t.mu.Lock()
	info.Subject = t.current.Subject
	t.mu.Unlock()
	info.SubjectFailed = func(err error) {
		t.log.Error(err, "The commit subject template failed for this change; the default subject is written", "path", op.Path)
	}
	t.noteCommitted(c.state.GetResourceVersion())
	info.Newest = t.newest
	res, err := t.writer.Commit(ctx, gitwriter.Change{
		Ops: []gitwriter.FileOp{op}, Author: author(info.User, t.p.opts.Cluster, info.When), Message: message(info),
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("committing %s %s: %w", string(c.op), op.Path, err)
	}
	if op.Delete {
		delete(t.known, op.Path)
		delete(t.plainKnown, op.Path)
	} else {
		t.known[op.Path] = gitwriter.BlobHash(op.Data)
		t.settlePlain(op.Path)
	}
	if op.Keep && res.Changed {
		t.fieldsWritten()
	}
	t.p.opts.Metrics.commitLatency(t.p.opts.Clock.Since(c.seen))
	if res.Changed {
		t.p.opts.Metrics.committed(t.name, "change")
		t.log.V(1).Info("Committed change", "operation", c.op, "path", op.Path, "user", info.authorName(), "commit", res.Commit)
		t.setStatus(func(s *Status) { s.LastCommit = res.Commit })
	}
	return time.Time{}, nil
}

// attribute finds the author of c; the change's own state is asked first, then nothing else:
// an author is never guessed.
func (t *target) attribute(c *change) (attribution.User, bool) {
	t.mu.Lock()
	q := t.query(c)
	t.mu.Unlock()
	return t.lookup(q)
}

func (t *target) lookup(q attribution.Query) (attribution.User, bool) {
	if t.p.opts.Attribution == nil {
		return attribution.User{}, false
	}
	return t.p.opts.Attribution.Lookup(q)
}

// encrypt returns the SOPS file for the sanitized plaintext of a sensitive object, or nil when
// it is the plaintext the branch already holds. The file it replaces is read from the branch so
// that an unchanged object keeps its file and a changed one keeps the ciphertext of what did not
// change.
func (t *target) encrypt(ctx context.Context, path string, plain []byte, keys secrets.Keys) ([]byte, error) {
	sum := sha256.Sum256(plain)
	if _, inGit := t.known[path]; inGit && t.plainKnown[path] == sum {
		return nil, nil
	}
	previous, ok, err := t.writer.Read(ctx, path)
	if err != nil || !ok {
		previous = nil // unknown or new: encrypt afresh
	}
	out, err := secrets.Encrypt(plain, keys, previous, t.p.opts.Clock.Now())
	if err != nil {
		return nil, fmt.Errorf("encrypting %s: %w", path, err)
	}
	t.pendingPlain[path] = sum
	if previous != nil && bytes.Equal(out, previous) {
		t.settlePlain(path)
		return nil, nil
	}
	return out, nil
}

// settlePlain records that the branch holds the plaintext encrypt was last given for path.
func (t *target) settlePlain(path string) {
	if sum, ok := t.pendingPlain[path]; ok {
		t.plainKnown[path] = sum
		delete(t.pendingPlain, path)
	}
}

// hold keeps the latest change of a sensitive object until it can be encrypted.
func (t *target) hold(path string, c *change) {
	t.mu.Lock()
	_, already := t.held[path]
	t.held[path] = c
	t.mu.Unlock()
	if !already {
		t.log.Info("Holding a change of a sensitive resource: it is written only once it can be encrypted", "path", path)
	}
}

func (i commitInfo) authorName() string {
	if i.User == nil {
		return unattributed
	}
	return i.User.Name
}
