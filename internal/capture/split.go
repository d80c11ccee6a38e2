package capture

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/fields"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/manifest"
)

// An object split between the directions by filters has one file in Git, which both sides share:
// this side edits only the fields its rules claim, in place, wherever the file is in the folder,
// and writes a whole file only for an object Git does not hold yet and whose other fields are no
// rule's (git-controller's "only changes to annotations": the create is written whole).

// identity is what names an object in a file.
type identity struct {
	group, kind, namespace, name string
}

func identityOf(obj map[string]any, defaultNamespace string) identity {
	u := unstructured.Unstructured{Object: obj}
	ns := u.GetNamespace()
	if ns == "" {
		ns = defaultNamespace
	}
	return identity{group: u.GroupVersionKind().Group, kind: u.GetKind(), namespace: ns, name: u.GetName()}
}

// indexedFile is a file of the folder outside our layout, as last read: which objects it holds.
type indexedFile struct {
	blob plumbing.Hash
	ids  []identity
}

// locate finds the file and document that hold obj: its layout path first, then any other
// manifest of the folder (read once per blob).
func (t *target) locate(ctx context.Context, folder, path string, obj *unstructured.Unstructured, namespaced bool) (string, []byte, manifest.Document, bool, error) {
	defaultNS := ""
	if namespaced {
		t.mu.Lock()
		defaultNS = t.current.Target.Namespace
		t.mu.Unlock()
	}
	want := identityOf(obj.Object, obj.GetNamespace())
	find := func(p string) ([]byte, manifest.Document, bool, error) {
		data, ok, err := t.writer.Read(ctx, p)
		if err != nil || !ok {
			return nil, manifest.Document{}, false, err
		}
		for _, d := range manifest.Documents(data) {
			if identityOf(d.Object, defaultNS) == want {
				return data, d, true, nil
			}
		}
		return data, manifest.Document{}, false, nil
	}
	for attempt := 0; ; attempt++ {
		file, data, doc, found, err := t.scan(ctx, folder, path, want, defaultNS, find)
		now := t.p.opts.Clock.Now()
		if err != nil || found || attempt > 0 || now.Sub(t.listed) < time.Second {
			return file, data, doc, found, err
		}
		// Not where we last looked: the branch may have moved (a person's push, fetched by the
		// applying side through the same writer). Look at its head once more, at most once a
		// second, since objects that Git does not hold look here on every change.
		t.listed = now
		files, err := t.writer.Files(ctx, folder)
		if err != nil {
			return "", nil, manifest.Document{}, false, err
		}
		t.known = files
	}
}

// scan looks for the object want in the files the target knows of.
func (t *target) scan(ctx context.Context, folder, path string, want identity, defaultNS string,
	find func(string) ([]byte, manifest.Document, bool, error)) (string, []byte, manifest.Document, bool, error) {
	if _, ok := t.known[path]; ok {
		if data, doc, found, err := find(path); err != nil || found {
			return path, data, doc, found, err
		}
	}
	for p, blob := range t.known {
		if p == path || !manifestFile(p) || strings.HasSuffix(p, ".sops.yaml") {
			continue
		}
		if _, _, inLayout := layoutPath(folder, p); inLayout {
			continue // a layout file holds the object its path names
		}
		entry, ok := t.index[p]
		if !ok || entry.blob != blob {
			data, ok, err := t.writer.Read(ctx, p)
			if err != nil {
				return "", nil, manifest.Document{}, false, fmt.Errorf("reading %s: %w", p, err)
			}
			entry = indexedFile{blob: blob}
			if ok {
				for _, d := range manifest.Documents(data) {
					entry.ids = append(entry.ids, identityOf(d.Object, defaultNS))
				}
			}
			t.index[p] = entry
		}
		for _, id := range entry.ids {
			if id == want {
				data, doc, found, err := find(p)
				return p, data, doc, found, err
			}
		}
	}
	return "", nil, manifest.Document{}, false, nil
}

// identityFields never change in place: a file may leave the namespace to its folder.
func identityField(p fields.Path) bool {
	s := p.String()
	return s == "/apiVersion" || s == "/kind" || s == "/metadata/name" || s == "/metadata/namespace"
}

// processSplit commits the change of an object only some of whose fields are this side's.
func (t *target) processSplit(ctx context.Context, path, folder string, src *Source, c *change, obj *unstructured.Unstructured, sel selection, sensitive bool) (time.Time, error) {
	if sensitive {
		return time.Time{}, nil // encrypted files are not edited field by field (docs/configuration.md)
	}
	own := *sel.split
	allowed := map[configv1alpha1.OperationType]bool{
		configv1alpha1.OperationCreate: sel.create, configv1alpha1.OperationUpdate: sel.update, configv1alpha1.OperationDelete: sel.delete,
	}[c.op]
	if !allowed {
		return time.Time{}, nil
	}
	namespaced := obj.GetNamespace() != ""
	file, data, doc, found, err := t.locate(ctx, folder, path, obj, namespaced)
	if errors.Is(err, gitwriter.ErrDropped) && own.Rest != fields.ToKubernetes {
		// Written whole by this writer before its rules split it, and no longer held: written
		// whole once more, from the cluster, after which it is kept and edited field by field.
		t.log.Info("Rewriting a file whole that was written before its rules split the object", "path", path)
		file, found, err = "", false, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	info := commitInfo{
		Operation: string(c.op), Resource: src.Resource, Namespace: obj.GetNamespace(), Name: obj.GetName(),
		ResourceVersion: obj.GetResourceVersion(), Cluster: t.p.opts.Cluster,
	}
	var op gitwriter.FileOp
	switch {
	case c.op == configv1alpha1.OperationDelete:
		// Only where this side owns the object itself, and only its own layout file.
		if !found || own.Rest != fields.ToGit || file != path {
			return time.Time{}, nil
		}
		op = gitwriter.FileOp{Path: path, Delete: true}
	case !found:
		if own.Rest == fields.ToKubernetes {
			return time.Time{}, nil // the applying side's object: Git has it, or it is not ours
		}
		rendered, err := t.renderExcept(obj, own)
		if err != nil || rendered == nil {
			return time.Time{}, err
		}
		op = gitwriter.FileOp{Path: path, Data: rendered, Keep: true}
	default:
		changes, names := fieldChanges(own, fields.Walker{GVK: obj.GroupVersionKind(), Keys: t.p.opts.Keys}, doc.Object, obj)
		if len(changes) == 0 {
			return time.Time{}, nil // no field of this side changed
		}
		edited, err := manifest.EditDocument(data, doc, changes)
		if err != nil {
			return time.Time{}, fmt.Errorf("editing %s: %w", file, err)
		}
		info.Fields = names
		op = gitwriter.FileOp{Path: file, Data: edited, Keep: true}
	}
	return t.commitChange(ctx, path, c, op, info, sel.excludedUsers)
}

// fieldChanges are the edits that give the file's object (inGit) the cluster's value of every
// field this side claims, and the fields' paths.
func fieldChanges(own fields.Ownership, w fields.Walker, inGit map[string]any, obj *unstructured.Unstructured) ([]manifest.FieldChange, []string) {
	live := manifest.Sanitize(obj).Object
	var changes []manifest.FieldChange
	var names []string
	for _, p := range own.Changed(w, inGit, live, fields.ToGit) {
		if identityField(p) {
			continue
		}
		if v, ok := fields.Get(live, p); ok {
			changes = append(changes, manifest.FieldChange{Path: p, Value: v})
		} else {
			changes = append(changes, manifest.FieldChange{Path: p, Remove: true})
		}
		names = append(names, p.String())
	}
	return changes, names
}

// reconcileSplit is what a reconcile writes for a split object: its claimed fields edited into
// its file (edits holds the files this reconcile already edited, and gets this one), or, for an
// object Git does not hold and whose other fields are no rule's, its whole file at path.
func (t *target) reconcileSplit(ctx context.Context, folder, path string, obj *unstructured.Unstructured, sel selection, edits map[string][]byte) (created []byte, err error) {
	own := *sel.split
	file, data, doc, found, err := t.locate(ctx, folder, path, obj, obj.GetNamespace() != "")
	if errors.Is(err, gitwriter.ErrDropped) && own.Rest != fields.ToKubernetes {
		found, err = false, nil
	}
	if err != nil {
		return nil, err
	}
	if !found {
		if own.Rest == fields.ToKubernetes || !sel.create {
			return nil, nil
		}
		return t.renderExcept(obj, own)
	}
	if edited, ok := edits[file]; ok {
		data = edited
		want := identityOf(doc.Object, "")
		for _, d := range manifest.Documents(data) {
			if identityOf(d.Object, "") == want {
				doc = d
			}
		}
	}
	if !sel.update {
		return nil, nil
	}
	changes, _ := fieldChanges(own, fields.Walker{GVK: obj.GroupVersionKind(), Keys: t.p.opts.Keys}, doc.Object, obj)
	if len(changes) == 0 {
		return nil, nil
	}
	if data, err = manifest.EditDocument(data, doc, changes); err != nil {
		return nil, fmt.Errorf("editing %s: %w", file, err)
	}
	edits[file] = data
	return nil, nil
}

// renderExcept is obj's whole file without the fields excluded writers own; nil when nothing
// but its name would be left (an object only such a writer made is not written at all).
func (t *target) renderExcept(obj *unstructured.Unstructured, own fields.Ownership) ([]byte, error) {
	if own.Except == nil || own.Except.Empty() {
		return render(obj)
	}
	clean := manifest.Sanitize(obj)
	w := fields.Walker{GVK: obj.GroupVersionKind(), Keys: t.p.opts.Keys}
	left := 0
	for _, l := range w.Leaves(clean.Object) {
		switch {
		case identityField(l.Path):
		case own.Except.Owns(l.Path):
			fields.Remove(clean.Object, l.Path)
		default:
			left++
		}
	}
	if left == 0 {
		return nil, nil
	}
	return manifest.Encode(clean)
}

// fieldsWritten tells the applying side that a split object's file changed.
func (t *target) fieldsWritten() {
	if f := t.p.opts.OnFieldsWritten; f != nil {
		go f(t.key)
	}
}
