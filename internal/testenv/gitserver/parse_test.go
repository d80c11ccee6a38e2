package gitserver

import (
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
)

func TestParseGitCommand(t *testing.T) {
	for command, want := range map[string][2]string{
		"git-upload-pack '/repo.git'":        {"upload-pack", "/repo.git"},
		"git-receive-pack 'team/repo.git'":   {"receive-pack", "team/repo.git"},
		"git upload-pack '/repo.git'":        {"upload-pack", "/repo.git"},
		"git receive-pack repo.git":          {"receive-pack", "repo.git"},
		`git-upload-pack "/a \"b\".git"`:     {"upload-pack", `/a "b".git`},
		`git-upload-pack '/it'\''s'\!'.git'`: {"upload-pack", "/it's!.git"},
		"  git-upload-pack\t/repo.git \n":    {"upload-pack", "/repo.git"},
	} {
		service, repo, err := parseGitCommand(command)
		NewWithT(t).Expect(err).NotTo(HaveOccurred(), command)
		NewWithT(t).Expect([2]string{service, repo}).To(Equal(want), command)
	}
	for _, command := range []string{
		"",
		"git-upload-pack",
		"git-upload-archive '/repo.git'",
		"git upload-pack",
		"git-upload-pack '/repo.git' extra",
		"git-upload-pack '/repo.git",
		`git-upload-pack "/repo.git`,
		`git-upload-pack /repo.git\`,
		"scp -t /repo.git",
	} {
		_, _, err := parseGitCommand(command)
		NewWithT(t).Expect(err).To(HaveOccurred(), command)
	}
}

func TestResolveRepoStaysInsideTheRoot(t *testing.T) {
	g := NewWithT(t)
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	repo := NewBareRepo(t, root, "team/app")
	outside := NewBareRepo(t, parent, "outside")
	g.Expect(os.Symlink(outside, filepath.Join(root, "escape.git"))).To(Succeed())
	g.Expect(os.Symlink(repo, filepath.Join(root, "alias.git"))).To(Succeed())
	g.Expect(os.MkdirAll(filepath.Join(root, "plain.git"), 0o755)).To(Succeed())
	realRepo, err := filepath.EvalSymlinks(repo)
	g.Expect(err).NotTo(HaveOccurred())

	for _, name := range []string{"team/app", "/team/app.git", "team/app.git", "alias"} {
		got, err := resolveRepo(root, name)
		g.Expect(err).NotTo(HaveOccurred(), name)
		g.Expect(got).To(Equal(realRepo), name)
	}
	for name, want := range map[string]string{
		"":                   "empty repository path",
		"/":                  "empty repository path",
		"../outside.git":     "'..' segment",
		"team/../../outside": "'..' segment",
		"team//app.git":      "empty, '.' or '..' segment",
		"./team/app.git":     "'.'",
		"escape.git":         "outside the server root",
		"plain.git":          "not a bare repository",
		"team":               "not found",
		"-oops.git":          "segment starting with",
		"~root/x.git":        "segment starting with",
		"team\\app.git":      "forbidden character",
		"team/app\x00.git":   "forbidden character",
	} {
		_, err := resolveRepo(root, name)
		g.Expect(err).To(MatchError(ContainSubstring(want)), name)
	}
}
