package controller

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
)

func TestBranchAllowed(t *testing.T) {
	cases := []struct {
		branch  string
		allowed []string
		want    bool
	}{
		{"main", []string{"*"}, true},
		{"env/prod", []string{"*"}, true},
		{"env/prod", []string{"env/*"}, true},
		{"env/prod/eu", []string{"env/*"}, false},
		{"main", []string{"release-*", "develop"}, false},
		{"release-1.2", []string{"release-*"}, true},
		{"main", []string{"[invalid"}, false},
	}
	for _, tc := range cases {
		NewWithT(t).Expect(gitwriter.BranchAllowed(tc.branch, tc.allowed)).To(Equal(tc.want), "%s in %v", tc.branch, tc.allowed)
	}
}

func TestPathsOverlap(t *testing.T) {
	g := NewWithT(t)
	g.Expect(pathsOverlap("live", "live")).To(BeTrue())
	g.Expect(pathsOverlap("live/", "live")).To(BeTrue())
	g.Expect(pathsOverlap("live", "live/prod")).To(BeTrue())
	g.Expect(pathsOverlap("clusters//prod", "clusters/prod/eu")).To(BeTrue())
	g.Expect(pathsOverlap("live", "live-2")).To(BeFalse())
	g.Expect(pathsOverlap("a/b", "a/c")).To(BeFalse())
}

func TestTheOlderTargetKeepsAnOverlappingFolder(t *testing.T) {
	g := NewWithT(t)
	at := func(uid, ns, name, branch, path string, age time.Duration) targetOnBranch {
		return targetOnBranch{url: "git@example.com:org/repo.git", target: &configv1alpha1.GitTarget{
			ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid), Namespace: ns, Name: name,
				CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(-age))},
			Spec: configv1alpha1.GitTargetSpec{Branch: branch, Path: path},
		}}
	}
	old := at("1", "a", "old", "main", "live", time.Hour)
	young := at("2", "b", "young", "main", "live/prod", time.Minute)
	otherBranch := at("3", "c", "other", "env", "live", 2*time.Hour)
	all := []targetOnBranch{old, young, otherBranch}

	g.Expect(firstOverlapping(young, all)).To(Equal(old.target))
	g.Expect(firstOverlapping(old, all)).To(BeNil(), "the older target keeps its folder")
	g.Expect(firstOverlapping(otherBranch, all)).To(BeNil(), "another branch never conflicts")

	otherRepo := young
	otherRepo.url = "git@example.com:org/other.git"
	g.Expect(firstOverlapping(otherRepo, all)).To(BeNil(), "another repository never conflicts")

	twin := at("4", "a", "twin", "main", "live", time.Hour) // same age: the name decides
	g.Expect(firstOverlapping(twin, append(all, twin))).To(Equal(old.target))
}
