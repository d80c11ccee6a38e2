package controller

import (
	"path"
	"sort"
	"strings"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

// cleanPath normalises a GitTarget path for comparison ("a/b/" and "a//b" are "a/b").
func cleanPath(p string) string {
	return strings.Trim(path.Clean("/"+p), "/")
}

// pathsOverlap reports whether one folder contains the other (or they are the same).
func pathsOverlap(a, b string) bool {
	a, b = cleanPath(a)+"/", cleanPath(b)+"/"
	return strings.HasPrefix(a, b) || strings.HasPrefix(b, a)
}

// targetOnBranch is a GitTarget with the repository URL of its provider resolved.
type targetOnBranch struct {
	target *configv1alpha1.GitTarget
	url    string
}

// firstOverlapping returns the GitTarget that already owns a folder overlapping target's on the
// same repository and branch, or nil. The older target keeps the folder (then the one whose
// namespace/name sorts first), so the answer does not depend on reconcile order.
func firstOverlapping(target targetOnBranch, others []targetOnBranch) *configv1alpha1.GitTarget {
	candidates := make([]targetOnBranch, 0, len(others))
	for _, o := range others {
		if o.target.UID == target.target.UID || o.url != target.url || o.target.Spec.Branch != target.target.Spec.Branch {
			continue
		}
		if pathsOverlap(o.target.Spec.Path, target.target.Spec.Path) && olderThan(o.target, target.target) {
			candidates = append(candidates, o)
		}
	}
	if len(candidates) == 0 {
		return nil
	}
	sort.Slice(candidates, func(i, j int) bool { return olderThan(candidates[i].target, candidates[j].target) })
	return candidates[0].target
}

func olderThan(a, b *configv1alpha1.GitTarget) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
}
