package capture

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/fields"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/manifest"
	"github.com/gitops-reverser/gitops-reverser/internal/route"
)

// Several directions share one folder: an object whose first selecting rule is not a whole-object
// syncTo: git rule belongs to another direction (applied from Git, or split field by field), and
// this one never writes, moves or removes its file.

// captures reports whether any of the source's rules writes objects, or some of their fields,
// to Git; only such a source is watched by this direction.
func (s *Source) captures() bool {
	for _, r := range s.Rules {
		if r.SyncTo == configv1alpha1.SyncToGit {
			return true
		}
	}
	return false
}

// selection is what the ordered rules decide for one object state.
type selection struct {
	// captured: every field of the object is written to Git.
	captured bool
	// split is set when only some fields are: they are edited in place in the object's file.
	split *fields.Ownership
	// claimed: no field of it goes to Git; another direction's object.
	claimed bool
	// allows are the operations the syncTo: git rules that select it count.
	create, update, delete bool
	// excludedUsers and excludedManagers are those of the syncTo: git rules that select it.
	excludedUsers, excludedManagers []string
}

func selectFor(rules []*route.Matcher, resource string, obj *unstructured.Unstructured, nsLabels map[string]string) selection {
	if route.First(rules, resource, obj, nsLabels) == nil {
		return selection{}
	}
	own := route.Ownership(rules, resource, obj, nsLabels)
	var s selection
	switch dir, whole := own.Whole(); {
	case whole && dir == fields.ToGit:
		s.captured = true
	case own.Has(fields.ToGit):
		s.split = &own
	default:
		return selection{claimed: true}
	}
	for _, r := range rules {
		if r.SyncTo == configv1alpha1.SyncToGit && r.Selects(resource, obj, nsLabels) {
			s.create = s.create || r.Allows("CREATE")
			s.update = s.update || r.Allows("UPDATE")
			s.delete = s.delete || r.Allows("DELETE")
			s.excludedUsers = append(s.excludedUsers, r.ExcludedUsers...)
			s.excludedManagers = append(s.excludedManagers, r.ExcludedManagers...)
		}
	}
	return s
}

// exceptExcluded leaves out of the selection the fields that its excluded field managers own in
// the cluster's copy of obj, read from the API server (the watch keeps no managedFields): an
// object captured whole becomes one captured field by field, so those fields keep what Git has.
func (t *target) exceptExcluded(ctx context.Context, src *Source, obj *unstructured.Unstructured, sel selection) (selection, error) {
	if len(sel.excludedManagers) == 0 || t.p.opts.Live == nil || (!sel.captured && sel.split == nil) {
		return sel, nil
	}
	live, err := t.p.opts.Live(ctx, src.Resource, obj.GetNamespace(), obj.GetName())
	if err != nil {
		return sel, fmt.Errorf("reading the managed fields of %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
	}
	if live == nil {
		return sel, nil // gone: nothing it has is anybody's any more
	}
	except, err := fields.ManagedByAny(live.GetManagedFields(), sel.excludedManagers)
	if err != nil || except.Empty() {
		return sel, err
	}
	own := fields.Ownership{Rest: fields.ToGit}
	if sel.split != nil {
		own = *sel.split
	}
	own.Except = &except
	sel.captured, sel.split = false, &own
	return sel, nil
}

// layoutPath splits a file below folder into the namespace folder and resource folder of the
// layout this direction writes (<folder>/<namespace>/<resource>[.<group>]/<name>.yaml); false for
// any other file, which is never this direction's.
func layoutPath(folder, p string) (scope, resourceDir string, ok bool) {
	rest, found := p, true
	if folder != "" { // "": the repository root
		rest, found = strings.CutPrefix(p, folder+"/")
	}
	if !found || !manifestFile(p) {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// sourceOfDir returns the plan's source (of any direction) whose objects live in resourceDir.
func sourceOfDir(plan Plan, resourceDir string) *Source {
	for i := range plan.Sources {
		if manifest.ResourceDir(plan.Sources[i].Resource.GroupResource()) == resourceDir {
			return &plan.Sources[i]
		}
	}
	return nil
}

// claimedInGit reports whether the file at p holds an object that another direction's rule
// claims, judged by the object as Git holds it, so that this direction leaves the file alone even
// when the cluster has no such object. A file that cannot be read or parsed is left alone too,
// when another direction could claim it: nothing is removed on a guess. While the writer reads
// the remote again (another writer pushed) the answer is not known yet: the error is
// gitwriter.ErrNotSynced, and the caller asks again later rather than dropping the change.
func (t *target) claimedInGit(ctx context.Context, src *Source, scope, p string) (bool, error) {
	ns := scope
	if scope == manifest.ClusterDir {
		ns = ""
	}
	var nsLabels map[string]string
	if ns != "" {
		nsLabels = t.p.ns.of(ns)
	}
	others := false
	for _, r := range src.Rules {
		others = others || (!r.Captures() && r.MaySelectIn(ns, nsLabels))
	}
	if !others {
		return false, nil
	}
	data, ok, err := t.writer.Read(ctx, p)
	if errors.Is(err, gitwriter.ErrDropped) {
		return false, nil // content this direction wrote and pushed: its own file
	}
	if errors.Is(err, gitwriter.ErrNotSynced) || (err != nil && ctx.Err() != nil) {
		return false, fmt.Errorf("reading %s: %w", p, err)
	}
	if err != nil {
		t.log.Error(err, "Leaving a file alone that another direction may own and that cannot be read", "path", p)
		return true, nil
	}
	if !ok {
		return false, nil
	}
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(data, &obj.Object); err != nil || obj.Object == nil {
		return true, nil
	}
	if obj.GetNamespace() == "" {
		obj.SetNamespace(ns)
	}
	sel := selectFor(src.Rules, src.Resource.Resource, obj, nsLabels)
	return sel.claimed || sel.split != nil, nil // a split object's file is edited field by field, never replaced
}
