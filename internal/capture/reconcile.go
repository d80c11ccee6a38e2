package capture

import (
	"context"
	"errors"
	"fmt"
	"path"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/manifest"
	"github.com/gitops-reverser/gitops-reverser/internal/memlimit"
	"github.com/gitops-reverser/gitops-reverser/internal/secrets"
	"github.com/gitops-reverser/gitops-reverser/internal/watch"
)

// reconcileRetry is how soon a reconcile that could not run yet (watches still listing, the
// remote not read yet) is tried again.
const reconcileRetry = 250 * time.Millisecond

// desiredFile is what a reconcile wants at a path, and which rules allow it.
type desiredFile struct {
	data           []byte
	create, update bool
	// keep: the branch already holds this object's encrypted file for the same plaintext.
	keep bool
	// fieldLevel: the file of an object split between the directions, edited field by field;
	// written though another direction claims it, and kept readable.
	fieldLevel bool
	// inFlight: the watch's store holds a change whose event has not reached the target yet;
	// the event follows, and the change gets its own commit.
	inFlight bool
}

// reconcileNow makes the folder equal to the selected objects with one commit by the operator.
// It returns when to try again if it could not run yet.
func (t *target) reconcileNow(ctx context.Context, reason string) time.Time {
	t.mu.Lock()
	sources := make(map[watch.Key]*Source, len(t.sources))
	for k, s := range t.sources {
		sources[k] = s
	}
	plan := t.current
	t.mu.Unlock()
	retry := t.p.opts.Clock.Now().Add(reconcileRetry)
	for key := range sources {
		if !t.p.opts.Watches.Synced(key, t.user) {
			return retry
		}
	}
	if t.usesNamespaceLabels() && !t.p.ns.synced() {
		return retry
	}
	files, err := t.writer.Files(ctx, plan.Folder)
	if errors.Is(err, gitwriter.ErrNotSynced) {
		t.setStatus(func(s *Status) { s.Problem = "waiting for the remote to be read: " + t.writer.Status().Message })
		return t.p.opts.Clock.Now().Add(time.Second)
	}
	if err != nil {
		if ctx.Err() == nil {
			t.log.Error(err, "Reconcile could not read the folder")
		}
		return t.p.opts.Clock.Now().Add(time.Second)
	}
	// Take the request now: a change after this point asks again.
	t.mu.Lock()
	t.reconcile = ""
	t.mu.Unlock()

	t.known = files
	// What each watch delivered to the target so far: the stores may hold newer changes whose
	// events are still on their way (the informer updates its store before it hands the event
	// on), and the reconcile leaves those to their own commits.
	t.mu.Lock()
	delivered := make(map[watch.Key]uint64, len(sources))
	for key := range sources {
		delivered[key] = t.delivered[key]
	}
	t.mu.Unlock()
	if !reflect.DeepEqual(t.encryptedFor, plan.Encryption) {
		// New recipients: every encrypted file is written again, for all of them.
		t.plainKnown, t.pendingPlain = map[string][32]byte{}, map[string][32]byte{}
		t.encryptedFor = plan.Encryption
	}
	desired, deletable, inFlight, err := t.desired(ctx, sources, plan, delivered)
	// The folder is rendered from the watches' stores, which hold at least what each has read,
	// short of the changes still on their way.
	t.mu.Lock()
	for key := range sources {
		if rv, ok := t.p.opts.Watches.Progress(key); ok {
			if first, waiting := inFlight[key]; waiting {
				rv = min(rv, first-1)
			}
			t.delivered[key] = max(t.delivered[key], rv)
			t.newest = max(t.newest, rv)
		}
	}
	t.mu.Unlock()
	if err != nil {
		t.log.Error(err, "Reconcile could not render the folder")
		t.setStatus(func(s *Status) { s.Problem = err.Error() })
		return t.p.opts.Clock.Now().Add(time.Minute)
	}
	ops, written, removed, err := t.diff(ctx, plan, files, desired, deletable)
	if err != nil {
		t.requestReconcile(reason) // the writer reads the remote again: ask once it has
		return t.p.opts.Clock.Now().Add(time.Second)
	}
	if len(ops) > 0 {
		change := gitwriter.Change{
			Ops: ops, Author: operator(plan.Settings, t.p.opts.Clock.Now()),
			Message: reconcileMessage(t.name, t.p.opts.ClusterID, reason, written, removed, t.watermark(nil), t.newest),
		}
		if t.saving != nil { // a CommitRequest's: by whoever asked, with their subject
			change.Author = author(t.saving.Requester, t.p.opts.Cluster, t.p.opts.Clock.Now())
			change.Message = saveMessage(t.name, t.p.opts.ClusterID, *t.saving, written, removed, t.watermark(nil), t.newest)
		}
		res, err := t.writer.Commit(ctx, change)
		if err != nil {
			if ctx.Err() == nil {
				t.log.Error(err, "Reconcile commit failed; retrying")
				t.requestReconcile(reason)
			}
			return t.p.opts.Clock.Now().Add(time.Second)
		}
		for _, op := range ops {
			if op.Delete {
				delete(files, op.Path)
				delete(t.plainKnown, op.Path)
			} else {
				files[op.Path] = gitwriter.BlobHash(op.Data)
				t.settlePlain(op.Path)
			}
		}
		for _, op := range ops {
			if op.Keep {
				t.fieldsWritten()
				break
			}
		}
		t.p.opts.Metrics.committed(t.name, "reconcile")
		t.log.Info("Reconciled folder", "reason", reason, "written", written, "removed", removed, "commit", res.Commit)
		if t.saving != nil {
			t.saved = res.Commit
		}
		t.setStatus(func(s *Status) { s.LastCommit = res.Commit })
	} else {
		t.log.V(1).Info("Reconciled folder; nothing to change", "reason", reason, "files", len(files))
	}
	t.known = files
	if plan.Encryption != nil {
		t.mu.Lock()
		t.held = map[string]*change{} // written by this reconcile
		t.mu.Unlock()
	}
	t.setStatus(func(s *Status) { s.Synced, s.Problem = true, "" })
	memlimit.AfterRender(len(desired))
	return time.Time{}
}

// desired renders every selected object of every source. It also returns, for every resource
// folder the sources own, whether the rules allow deleting there.
func (t *target) desired(ctx context.Context, sources map[watch.Key]*Source, plan Plan, delivered map[watch.Key]uint64) (map[string]desiredFile, map[string]bool, map[watch.Key]uint64, error) {
	folder := plan.Folder
	want := map[string]desiredFile{}
	if plan.Encryption != nil {
		want[path.Join(folder, secrets.ConfigFile)] = desiredFile{data: secrets.CreationRules(*plan.Encryption), create: true, update: true}
	}
	deletable := map[string]bool{}
	inFlight := map[watch.Key]uint64{} // the oldest change on its way, per watch
	edits := map[string][]byte{}       // files of split objects, as edited so far
	for key, src := range sources {
		gr := src.Resource.GroupResource()
		dir := manifest.ResourceDir(gr)
		allowed := deletable[dir]
		for _, r := range src.Rules {
			allowed = allowed || (r.Captures() && r.Allows(configv1alpha1.OperationDelete))
		}
		deletable[dir] = allowed
		sensitive := t.p.opts.Sensitive(gr)
		if sensitive && plan.Encryption == nil {
			continue // held: nothing is written in plaintext
		}
		objs, ok := t.p.opts.Watches.List(key)
		if !ok {
			return nil, nil, nil, fmt.Errorf("the watch of %s is not listed", key)
		}
		for _, o := range objs {
			obj, err := o.Decode()
			if err != nil {
				return nil, nil, nil, err
			}
			var nsLabels map[string]string
			if ns := obj.GetNamespace(); ns != "" {
				nsLabels = t.p.ns.of(ns)
			}
			if plan.excluded(gr, obj.GetNamespace(), obj.GetName()) {
				continue
			}
			sel := selectFor(src.Rules, gr.Resource, obj, nsLabels)
			sel, err = t.exceptExcluded(ctx, src, obj, sel)
			if err != nil {
				return nil, nil, nil, err
			}
			if sel.split != nil && !sensitive {
				p, err := objectPath(folder, src, obj, false)
				if err != nil {
					return nil, nil, nil, err
				}
				whole, err := t.reconcileSplit(ctx, folder, p, obj, sel, edits)
				if err != nil {
					return nil, nil, nil, err
				}
				if whole != nil {
					want[p] = desiredFile{data: whole, create: true, fieldLevel: true}
				}
				continue
			}
			if !sel.captured {
				continue // unselected, or another direction's (diff leaves its file alone)
			}
			d := desiredFile{create: sel.create, update: sel.update}
			p, err := objectPath(folder, src, obj, sensitive)
			if err != nil {
				return nil, nil, nil, err
			}
			if rv, ok := watch.ParseVersion(obj.GetResourceVersion()); ok && rv > delivered[key] {
				want[p] = desiredFile{inFlight: true}
				if first, seen := inFlight[key]; !seen || rv < first {
					inFlight[key] = rv
				}
				continue
			}
			if d.data, err = render(obj); err != nil {
				return nil, nil, nil, err
			}
			if sensitive {
				if d.data, err = t.encrypt(ctx, p, d.data, *plan.Encryption); err != nil {
					return nil, nil, nil, err
				}
				d.keep = d.data == nil
			}
			want[p] = d
		}
	}
	for p, data := range edits {
		want[p] = desiredFile{data: data, update: true, fieldLevel: true}
	}
	return want, deletable, inFlight, nil
}

// diff turns the difference between the folder and the desired files into file operations,
// leaving alone paths with queued changes (their own commits follow), files of sensitive
// resources, what the rules' operations do not allow, files outside the layout this direction
// writes, and files that hold another direction's objects.
func (t *target) diff(ctx context.Context, plan Plan, files map[string]plumbing.Hash, desired map[string]desiredFile, deletable map[string]bool) ([]gitwriter.FileOp, int, int, error) {
	encrypting := plan.Encryption != nil
	var ops []gitwriter.FileOp
	var candidates []string
	var overwrites []gitwriter.FileOp
	t.mu.Lock()
	for p, d := range desired {
		if t.queue.has(p) || d.keep || d.inFlight {
			continue
		}
		cur, exists := files[p]
		switch {
		case !exists && d.create:
			ops = append(ops, gitwriter.FileOp{Path: p, Data: d.data, Keep: d.fieldLevel})
		case exists && d.update && cur != gitwriter.BlobHash(d.data) && d.fieldLevel:
			ops = append(ops, gitwriter.FileOp{Path: p, Data: d.data, Keep: true}) // only this side's fields changed
		case exists && d.update && cur != gitwriter.BlobHash(d.data):
			overwrites = append(overwrites, gitwriter.FileOp{Path: p, Data: d.data})
		}
	}
	for p := range files {
		if _, ok := desired[p]; ok || t.queue.has(p) {
			continue
		}
		_, dir, ok := layoutPath(plan.Folder, p)
		if !ok {
			continue // not a file of this direction's layout: a person's, or another direction's
		}
		if t.held[p] != nil || (!encrypting && strings.HasSuffix(p, ".sops.yaml")) {
			continue // sensitive and held: nothing about it is decided until it can be encrypted
		}
		if allowed, owned := deletable[dir]; owned && !allowed {
			continue
		}
		candidates = append(candidates, p)
	}
	t.mu.Unlock()
	// Git decides for a file that holds another direction's object, whatever the cluster says.
	for _, op := range overwrites {
		scope, dir, ok := layoutPath(plan.Folder, op.Path)
		if src := sourceOfDir(plan, dir); ok && src != nil {
			if claimed, err := t.claimedInGit(ctx, src, scope, op.Path); err != nil {
				return nil, 0, 0, err
			} else if claimed {
				continue
			}
		}
		ops = append(ops, op)
	}
	written := len(ops)
	removed := 0
	for _, p := range candidates {
		scope, dir, _ := layoutPath(plan.Folder, p)
		if src := sourceOfDir(plan, dir); src != nil {
			if claimed, err := t.claimedInGit(ctx, src, scope, p); err != nil {
				return nil, 0, 0, err
			} else if claimed {
				continue
			}
		}
		ops = append(ops, gitwriter.FileOp{Path: p, Delete: true})
		removed++
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].Path < ops[j].Path })
	return ops, written, removed, nil
}

// manifestFile reports whether a file in the folder is one the operator manages: a YAML file
// that is not a dotfile. A README or a .sops.yaml a person added stays.
func manifestFile(p string) bool {
	base := path.Base(p)
	return strings.HasSuffix(base, ".yaml") && !strings.HasPrefix(base, ".")
}

// operator is the author of reconcile commits: the GitProvider's committer, or the default.
func operator(s gitwriter.Settings, now time.Time) gitwriter.Signature {
	sig := s.Committer
	if sig.Name == "" {
		sig = gitwriter.Signature{Name: "gitops-reverser", Email: "gitops-reverser@configbutler.ai"}
	}
	sig.When = now
	return sig
}
