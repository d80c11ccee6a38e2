package apply

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/fluxcd/pkg/ssa"
	"github.com/go-git/go-git/v5/plumbing"
	"k8s.io/apimachinery/pkg/runtime/schema"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/attribution"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
)

// pass fetches the branch, reads the folder and applies what the rules select, then prunes. It
// reports false when it could not run (the remote unreachable, say) and should be retried.
func (t *target) pass(ctx context.Context, reason string) bool {
	start := time.Now()
	plan := t.plan()
	if !t.loaded {
		inv, errs := InventoryOf(plan.Inventory)
		for _, err := range errs {
			t.log.Error(err, "Ignoring an inventory entry; the object it names is never pruned")
		}
		t.inventory, t.loaded = inv, true
	}
	tip, err := t.writer.Refresh(ctx)
	if err != nil {
		if ctx.Err() == nil {
			t.setStatus(func(s *Status) {
				s.Reason, s.Message = configv1alpha1.ReasonApplyFailed, "cannot fetch the branch: "+err.Error()
			})
		}
		return false
	}
	files, err := t.writer.Files(ctx, plan.Folder)
	if err != nil {
		return false
	}
	manifests, problems, unreadable := t.read(ctx, files)
	scope := Scope{DefaultNamespace: plan.Target.Namespace, Resource: t.a.opts.Resource, NamespaceLabels: t.nsLabels(ctx), Keys: t.a.keys}
	selected, refused := selectManifests(manifests, plan.Sources, scope)
	problems = append(problems, refused...)

	desired := make(map[ObjectID]Selected, len(selected))
	var toApply []Selected
	unchanged := 0
	for _, s := range selected {
		desired[s.ID] = s
		if sum, ok := t.clean[s.ID]; ok && sum == digest(s) {
			unchanged++
			continue
		}
		toApply = append(toApply, s)
	}
	t.mu.Lock()
	t.desired = desired
	t.mu.Unlock()

	outcomes := applyAll(ctx, t.a.opts.Managers, toApply, t.a.opts.Concurrency, func(id ObjectID) bool {
		_, ok := t.inventory[id]
		return ok
	})
	counts := map[ssa.Action]int{ssa.UnchangedAction: unchanged}
	for _, o := range outcomes {
		if o.err != nil {
			delete(t.clean, o.sel.ID)
			problems = append(problems, Problem{Where: o.sel.Where(), Reason: reasonOf(o.err), Err: o.err})
			continue
		}
		if o.recheck {
			delete(t.clean, o.sel.ID)
		} else {
			t.clean[o.sel.ID] = digest(o.sel)
		}
		counts[o.action]++
	}

	next := Inventory{}
	for id, s := range desired {
		if !s.Whole() {
			continue // only some fields are ours: never pruned, so not in the inventory
		}
		next[id] = s.Object.GroupVersionKind().Version
	}
	var prunedNames []string
	if unreadable {
		// An object whose manifest we cannot see is not one we know was removed.
		for id, v := range t.inventory {
			if _, ok := next[id]; !ok {
				next[id] = v
			}
		}
	} else {
		for _, p := range prune(ctx, t.a.opts.Managers, t.inventory.Without(next), t.sourceOf(plan), scope.NamespaceLabels) {
			switch {
			case p.err != nil:
				next[p.id] = t.inventory[p.id] // kept, and tried again next pass
				problems = append(problems, Problem{Where: p.id.Describe(), Reason: reasonOf(p.err), Err: p.err})
			case p.decision == pruneDelete:
				counts[ssa.DeletedAction]++
				prunedNames = append(prunedNames, p.id.Describe())
				t.log.Info("Pruned object removed from Git", "object", p.id.Describe())
			case p.decision == pruneRelease:
				t.log.Info("Released object; it stays in the cluster", "object", p.id.Describe(), "why", p.why)
			}
			delete(t.clean, p.id)
		}
	}
	t.inventory = next

	took := time.Since(start)
	t.record(counts, problems, took)
	reasonOut, message := summarize(counts, problems, unreadable)
	revision := tip.String()
	if tip.IsZero() {
		revision = ""
	}
	t.log.Info("Applied revision", "revision", short(revision), "reason", reason, "created", counts[ssa.CreatedAction],
		"configured", counts[ssa.ConfiguredAction], "unchanged", counts[ssa.UnchangedAction], "deleted", counts[ssa.DeletedAction],
		"problems", len(problems), "took", took.String())
	t.setStatus(func(s *Status) {
		s.Done, s.Revision, s.Reason, s.Message = true, revision, reasonOut, message
		s.Inventory = next.Refs()
		s.Pruned = append(s.Pruned, prunedNames...)
	})
	return true
}

// read parses every manifest file of the folder, reusing what it read of unchanged files. Files
// the cluster → Git direction wrote and no longer holds in memory are its own: skipped.
func (t *target) read(ctx context.Context, files map[string]plumbing.Hash) ([]Manifest, []Problem, bool) {
	plan := t.plan()
	var manifests []Manifest
	var problems []Problem
	unreadable := false
	paths := make([]string, 0, len(files))
	for p := range files {
		if isManifestFile(p) {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	next := make(map[string]cachedFile, len(paths))
	for _, p := range paths {
		blob := files[p]
		cached, ok := t.files[p]
		if !ok || cached.blob != blob || cached.problems != nil && hasDecryptionProblem(cached.problems) {
			data, found, err := t.writer.Read(ctx, p)
			switch {
			case errors.Is(err, gitwriter.ErrDropped):
				cached = cachedFile{blob: blob}
			case err != nil:
				cached = cachedFile{blob: blob, problems: []Problem{{Where: p, Reason: configv1alpha1.ReasonApplyFailed, Err: fmt.Errorf("cannot read: %w", err)}}}
			case !found:
				continue
			default:
				ms, ps := parseFile(p, data, plan.Keys)
				cached = cachedFile{blob: blob, manifests: ms, problems: ps}
			}
		}
		next[p] = cached
		// Copies: selection sets defaults on the objects, and the cache keeps the originals.
		for _, m := range cached.manifests {
			m.Object = m.Object.DeepCopy()
			manifests = append(manifests, m)
		}
		if len(cached.problems) > 0 {
			unreadable = true
			problems = append(problems, cached.problems...)
		}
	}
	t.files = next
	return manifests, problems, unreadable
}

func hasDecryptionProblem(ps []Problem) bool {
	for _, p := range ps {
		if p.Reason == configv1alpha1.ReasonDecryptionFailed {
			return true // the keys may have changed since
		}
	}
	return false
}

// correct puts back the objects the drift watch reported, from the last pass's manifests.
func (t *target) correct(ctx context.Context, drifted map[ObjectID]bool) {
	t.mu.Lock()
	var again []Selected
	for id := range drifted {
		if s, ok := t.desired[id]; ok {
			again = append(again, s)
		}
	}
	t.mu.Unlock()
	for _, o := range applyEach(ctx, t.a.opts.Managers, again, t.a.opts.Concurrency, nil) {
		if o.err != nil {
			delete(t.clean, o.sel.ID)
			t.a.opts.Metrics.failed(t.name, reasonOf(o.err))
			t.log.Error(o.err, "Could not put back an object changed in the cluster", "object", o.sel.ID.Describe(), "file", o.sel.Where())
			continue
		}
		t.clean[o.sel.ID] = digest(o.sel)
		if o.action == ssa.UnchangedAction {
			continue
		}
		t.a.opts.Metrics.corrected(t.name)
		t.log.Info("Put back an object changed in the cluster", "object", o.sel.ID.Describe(), "file", o.sel.Where(),
			"action", string(o.action), "changedBy", t.driftAuthor(o.sel))
	}
}

// driftAuthor names who last changed the object, when attribution knows.
func (t *target) driftAuthor(s Selected) string {
	if t.a.opts.Attribution == nil {
		return "unknown"
	}
	q := attribution.Query{
		Identity:  attribution.Identity{Group: s.Resource.Group, Resource: s.Resource.Resource, Namespace: s.ID.Namespace, Name: s.ID.Name},
		Operation: "UPDATE",
	}
	if u, ok := t.a.opts.Attribution.Lookup(q); ok {
		return u.Name
	}
	return "unknown"
}

func (t *target) nsLabels(ctx context.Context) func(string) map[string]string {
	if t.a.opts.NamespaceLabels == nil {
		return nil
	}
	return func(ns string) map[string]string { return t.a.opts.NamespaceLabels(ctx, ns) }
}

func (t *target) sourceOf(plan Plan) func(schema.GroupKind) *Source {
	return func(gk schema.GroupKind) *Source {
		for i := range plan.Sources {
			if s := &plan.Sources[i]; s.Resource.Group == gk.Group && s.Kind == gk.Kind {
				return s
			}
		}
		return nil
	}
}

func (t *target) record(counts map[ssa.Action]int, problems []Problem, took time.Duration) {
	m := t.a.opts.Metrics
	m.observeDuration(t.name, took)
	for action, n := range counts {
		m.object(t.name, string(action), n)
	}
	for _, p := range problems {
		m.failed(t.name, p.Reason)
	}
}

// summarize is the Applied condition: the most pressing reason, and every problem by name.
func summarize(counts map[ssa.Action]int, problems []Problem, unreadable bool) (string, string) {
	applied := fmt.Sprintf("%d created, %d configured, %d unchanged, %d deleted",
		counts[ssa.CreatedAction], counts[ssa.ConfiguredAction], counts[ssa.UnchangedAction], counts[ssa.DeletedAction])
	if n := counts[ssa.SkippedAction]; n > 0 {
		// Filtered syncTo: kubernetes rules apply fields to objects someone else creates.
		applied += fmt.Sprintf(", %d not in the cluster yet (only some of their fields are applied, so they are not created)", n)
	}
	if len(problems) == 0 {
		return configv1alpha1.ReasonApplied, applied
	}
	order := []string{configv1alpha1.ReasonDecryptionFailed, configv1alpha1.ReasonForbidden, configv1alpha1.ReasonOutsideScope,
		configv1alpha1.ReasonInvalidManifest, configv1alpha1.ReasonApplyFailed}
	reason := configv1alpha1.ReasonApplyFailed
	for i := len(order) - 1; i >= 0; i-- {
		for _, p := range problems {
			if p.Reason == order[i] {
				reason = order[i]
			}
		}
	}
	lines := make([]string, 0, len(problems))
	for _, p := range problems {
		lines = append(lines, p.String())
	}
	sort.Strings(lines)
	const shown = 20
	if len(lines) > shown {
		lines = append(lines[:shown], fmt.Sprintf("and %d more", len(lines)-shown))
	}
	msg := fmt.Sprintf("%d problems; the other objects were applied (%s)", len(problems), applied)
	if unreadable {
		msg += "; nothing is pruned while a file cannot be read"
	}
	return reason, msg + ": " + strings.Join(lines, "; ")
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

// covers reports whether every field git sets has the same value in live: then an apply would
// change nothing that Git owns. Lists must match element by element.
func covers(git, live any) bool {
	switch g := git.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return false
		}
		for k, gv := range g {
			if k == "status" {
				continue
			}
			lv, ok := l[k]
			if !ok || !covers(gv, lv) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(g) {
			return false
		}
		for i := range g {
			if !covers(g[i], l[i]) {
				return false
			}
		}
		return true
	case int64, int, float64:
		return numeric(git) == numeric(live)
	}
	return reflect.DeepEqual(git, live)
}

func numeric(v any) any {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case int:
		return float64(n)
	}
	return v
}
