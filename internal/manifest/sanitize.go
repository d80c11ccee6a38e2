package manifest

import (
	"encoding/json"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// serverMetadata is metadata the API server sets; an object recreated from Git gets its own.
var serverMetadata = []string{
	"uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
	"deletionGracePeriodSeconds", "selfLink", "managedFields", "ownerReferences",
}

// serverAnnotations are annotations tools and controllers write about the object, not into it.
var serverAnnotations = []string{
	"kubectl.kubernetes.io/last-applied-configuration",
	"deployment.kubernetes.io/revision",
	// apps/v1 keeps a DaemonSet's template generation, which the API server counts, here; a
	// recreated DaemonSet starts again at 1.
	"deprecated.daemonset.template.generation",
	// Set by the PersistentVolume controller when it binds a claim.
	"pv.kubernetes.io/bind-completed",
	"pv.kubernetes.io/bound-by-controller",
	"volume.beta.kubernetes.io/storage-provisioner",
	"volume.kubernetes.io/storage-provisioner",
	"volume.kubernetes.io/selected-node",
	// Set by the LimitRanger admission plugin on a pod it gave default requests or limits; the
	// defaults themselves stay in the spec, and a pod recreated with them gets no annotation.
	"kubernetes.io/limit-ranger",
}

// serverLabels are labels the API server or a controller sets from the object's own identity.
var serverLabels = map[schema.GroupKind][]string{
	{Kind: "Namespace"}: {"kubernetes.io/metadata.name"},
}

// allocated lists, per kind, fields the cluster allocates or binds; recreated objects get new ones.
// Each entry is a path of field names; "*" walks every element of a list.
//
// The same fields can also be the user's choice (a fixed nodePort or clusterIP, a Job's manual
// selector), and the value alone does not tell which. metadata.managedFields does: the API server
// allocates these fields in storage, after it recorded which fields each client sent, so an
// allocated value has no manager and a chosen one has. A field some manager owns is kept; without
// managedFields the field is removed. (Only for fields allocated in storage: fields defaulted
// while decoding, or written by a controller's update, are owned by that client.)
var allocated = map[schema.GroupKind][][]string{
	{Kind: "Service"}: {
		{"spec", "clusterIP"}, {"spec", "clusterIPs"}, {"spec", "healthCheckNodePort"},
		{"spec", "ports", "*", "nodePort"},
	},
	{Group: "batch", Kind: "Job"}: {
		{"spec", "selector"},
		// The Job's own labels are copied from its template's when it has none, uid included.
		{"metadata", "labels", "controller-uid"},
		{"metadata", "labels", "batch.kubernetes.io/controller-uid"},
		{"spec", "template", "metadata", "labels", "controller-uid"},
		{"spec", "template", "metadata", "labels", "batch.kubernetes.io/controller-uid"},
	},
}

// notIntent lists, per kind, fields that never hold the user's choice, whoever sent them.
var notIntent = map[schema.GroupKind][][]string{
	// The API server overwrites the requester's identity with that of whoever creates the request.
	{Group: "certificates.k8s.io", Kind: "CertificateSigningRequest"}: {
		{"spec", "username"}, {"spec", "uid"}, {"spec", "groups"}, {"spec", "extra"},
	},
	// The API server defaults a claim template's status (phase: Pending); claims made from the
	// template get their own status, and the StatefulSet controller never reads it.
	{Group: "apps", Kind: "StatefulSet"}: {{"spec", "volumeClaimTemplates", "*", "status"}},
	// The API server defaults a device taint's timeAdded to the time of the request while decoding
	// it, so the creator appears to own it; a recreated taint is stamped anew.
	{Group: "resource.k8s.io", Kind: "DeviceTaintRule"}: {{"spec", "taint", "timeAdded"}},
	{Group: "resource.k8s.io", Kind: "ResourceSlice"}:   {{"spec", "devices", "*", "taints", "*", "timeAdded"}},
}

// conditionTaints are the taints the TaintNodesByCondition admission plugin and the node
// lifecycle controller put on a Node from its status conditions (and spec.unschedulable); a
// recreated Node gets them from its own conditions.
var conditionTaints = []string{
	"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable", "node.kubernetes.io/unschedulable",
	"node.kubernetes.io/memory-pressure", "node.kubernetes.io/disk-pressure",
	"node.kubernetes.io/pid-pressure", "node.kubernetes.io/network-unavailable",
}

// Sanitize returns a copy of obj without what the cluster added to it. It removes; it never keeps
// only what it knows, so fields of new resources and new API versions survive.
func Sanitize(obj *unstructured.Unstructured) *unstructured.Unstructured {
	out := obj.DeepCopy()
	owned := managedFieldSets(out)
	delete(out.Object, "status")
	meta, _ := out.Object["metadata"].(map[string]any)
	if meta != nil {
		for _, f := range serverMetadata {
			delete(meta, f)
		}
		gk := out.GroupVersionKind().GroupKind()
		removeKeys(meta, "annotations", serverAnnotations)
		removeKeys(meta, "labels", serverLabels[gk])
	}
	gk := out.GroupVersionKind().GroupKind()
	for _, path := range allocated[gk] {
		if gk.Kind == "Service" && len(path) == 2 && (path[1] == "clusterIP" || path[1] == "clusterIPs") && headless(out) {
			continue // clusterIP: None is the user's choice, not an allocation
		}
		removeUnowned(out.Object, owned, path)
	}
	for _, path := range notIntent[gk] {
		removePath(out.Object, path)
	}
	switch gk {
	case schema.GroupKind{Kind: "PersistentVolumeClaim"}:
		if boundByController(obj) {
			removePath(out.Object, []string{"spec", "volumeName"})
		}
	case schema.GroupKind{Kind: "PersistentVolume"}:
		if boundByController(obj) {
			removePath(out.Object, []string{"spec", "claimRef"})
		} else {
			// A volume pre-bound to a claim by name: the controller adds the claim's identity.
			for _, f := range []string{"uid", "resourceVersion"} {
				removePath(out.Object, []string{"spec", "claimRef", f})
			}
		}
	case schema.GroupKind{Kind: "Pod"}:
		removeTokenVolume(out.Object, owned)
	case schema.GroupKind{Kind: "Node"}:
		removeConditionTaints(out.Object)
	}
	return out
}

// boundByController reports whether the PersistentVolume controller bound the claim or volume,
// rather than its author naming the other side. The controller marks what it binds so; what it
// finds pre-bound it leaves unmarked. (managedFields cannot tell: the controller writes the
// binding with an update, which makes it the field's manager.)
func boundByController(obj *unstructured.Unstructured) bool {
	return obj.GetAnnotations()["pv.kubernetes.io/bound-by-controller"] == "yes"
}

// removeConditionTaints removes the conditionTaints from a Node's spec.taints.
func removeConditionTaints(node map[string]any) {
	spec, _ := node["spec"].(map[string]any)
	taints, _ := spec["taints"].([]any)
	if taints == nil {
		return
	}
	kept := taints[:0:0]
	for _, t := range taints {
		taint, _ := t.(map[string]any)
		if key, _ := taint["key"].(string); !slices.Contains(conditionTaints, key) {
			kept = append(kept, t)
		}
	}
	if len(kept) == 0 {
		delete(spec, "taints")
	} else {
		spec["taints"] = kept
	}
}

// tokenVolumePrefix starts the name of the projected volume the ServiceAccount admission plugin
// adds to every pod that does not opt out, with a random suffix: kube-api-access-x7k2p. A pod
// recreated without it gets a new one, so it must go, with its mounts.
const tokenVolumePrefix = "kube-api-access-"

// removeTokenVolume removes the service account token volume the ServiceAccount admission plugin
// added to a pod, and its mounts. A volume of that name that a field manager owns was the user's.
func removeTokenVolume(pod map[string]any, owned []map[string]any) {
	spec, _ := pod["spec"].(map[string]any)
	volumes, _ := spec["volumes"].([]any)
	var specSets []map[string]any
	for _, set := range owned {
		if m, ok := set["f:spec"].(map[string]any); ok {
			if v, ok := m["f:volumes"].(map[string]any); ok {
				specSets = append(specSets, v)
			}
		}
	}
	removed := map[string]bool{}
	kept := volumes[:0:0]
	for _, v := range volumes {
		vol, _ := v.(map[string]any)
		name, _ := vol["name"].(string)
		_, projected := vol["projected"]
		if strings.HasPrefix(name, tokenVolumePrefix) && projected && len(elementSets(specSets, vol)) == 0 {
			removed[name] = true
			continue
		}
		kept = append(kept, v)
	}
	if len(removed) == 0 {
		return
	}
	if len(kept) == 0 {
		delete(spec, "volumes")
	} else {
		spec["volumes"] = kept
	}
	for _, field := range []string{"initContainers", "containers", "ephemeralContainers"} {
		containers, _ := spec[field].([]any)
		for _, c := range containers {
			container, _ := c.(map[string]any)
			mounts, _ := container["volumeMounts"].([]any)
			if mounts == nil {
				continue
			}
			keptMounts := mounts[:0:0]
			for _, m := range mounts {
				mount, _ := m.(map[string]any)
				if name, _ := mount["name"].(string); !removed[name] {
					keptMounts = append(keptMounts, m)
				}
			}
			if len(keptMounts) == 0 {
				delete(container, "volumeMounts")
			} else {
				container["volumeMounts"] = keptMounts
			}
		}
	}
}

// managedFieldSets returns the fieldsV1 trees of obj's metadata.managedFields, one per manager.
func managedFieldSets(obj *unstructured.Unstructured) []map[string]any {
	var sets []map[string]any
	for _, entry := range obj.GetManagedFields() {
		if entry.FieldsV1 == nil {
			continue
		}
		var set map[string]any
		if err := json.Unmarshal(entry.FieldsV1.Raw, &set); err == nil {
			sets = append(sets, set)
		}
	}
	return sets
}

// removeUnowned deletes the field at path, like removePath, unless one of the managed field sets,
// walked in step with obj, owns it. Field sets name a field "f:<name>" and a list element by its
// keys, "k:{"port":80,"protocol":"TCP"}".
func removeUnowned(obj map[string]any, owned []map[string]any, path []string) {
	if len(path) == 0 {
		return
	}
	var sub []map[string]any
	for _, set := range owned {
		if m, ok := set["f:"+path[0]].(map[string]any); ok {
			sub = append(sub, m)
		}
	}
	if len(path) == 1 {
		if len(sub) == 0 {
			delete(obj, path[0])
		}
		return
	}
	next := obj[path[0]]
	if path[1] == "*" {
		list, _ := next.([]any)
		for _, item := range list {
			if m, ok := item.(map[string]any); ok {
				removeUnowned(m, elementSets(sub, m), path[2:])
			}
		}
		return
	}
	m, ok := next.(map[string]any)
	if !ok {
		return
	}
	removeUnowned(m, sub, path[1:])
	if len(m) == 0 {
		delete(obj, path[0])
	}
}

// elementSets returns the field sets of the list element item: those under a "k:" key whose
// fields all have item's values.
func elementSets(lists []map[string]any, item map[string]any) []map[string]any {
	var out []map[string]any
	for _, list := range lists {
		for key, set := range list {
			keyJSON, ok := strings.CutPrefix(key, "k:")
			if !ok {
				continue
			}
			var keys map[string]any
			if json.Unmarshal([]byte(keyJSON), &keys) != nil {
				continue
			}
			match := true
			for field, want := range keys {
				a, _ := json.Marshal(want)
				b, _ := json.Marshal(item[field])
				if string(a) != string(b) {
					match = false
					break
				}
			}
			if m, ok := set.(map[string]any); ok && match {
				out = append(out, m)
			}
		}
	}
	return out
}

// removeKeys deletes keys from the string map meta[field], and the map itself when it empties.
func removeKeys(meta map[string]any, field string, keys []string) {
	m, _ := meta[field].(map[string]any)
	if m == nil {
		return
	}
	for _, k := range keys {
		delete(m, k)
	}
	if len(m) == 0 {
		delete(meta, field)
	}
}

// removePath deletes the field at path whoever owns it: removeUnowned with no owned fields.
func removePath(obj map[string]any, path []string) {
	removeUnowned(obj, nil, path)
}

func headless(svc *unstructured.Unstructured) bool {
	ip, _, _ := unstructured.NestedString(svc.Object, "spec", "clusterIP")
	return ip == "None"
}

// ControlledBy returns the owner that controls obj (a ReplicaSet's Deployment, a Pod's
// ReplicaSet), or nil. Controlled objects are derived state and are skipped unless a rule asks.
func ControlledBy(obj *unstructured.Unstructured) *ControllerRef {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller {
			return &ControllerRef{APIVersion: ref.APIVersion, Kind: ref.Kind, Name: ref.Name}
		}
	}
	return nil
}

// ControllerRef names an object's controller.
type ControllerRef struct {
	APIVersion, Kind, Name string
}
