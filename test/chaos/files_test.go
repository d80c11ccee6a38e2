package chaos

import (
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

func keyOf(namespace, name string) client.ObjectKey {
	return client.ObjectKey{Namespace: namespace, Name: name}
}

// filesIn lists the files below folder on the remote branch with their contents.
func filesIn(t *testing.T, dir, folder string) map[string]string {
	t.Helper()
	if _, ok := gitserver.Refs(t, dir)["refs/heads/"+branch]; !ok {
		return nil
	}
	out := map[string]string{}
	for _, p := range strings.Fields(gitserver.Git(t, dir, "ls-tree", "-r", "--name-only", branch, "--", folder)) {
		out[p] = gitserver.Git(t, dir, "show", branch+":"+p)
	}
	return out
}

// seqs reads the seq value of each ConfigMap file.
func seqs(files map[string]string) map[string]string {
	out := map[string]string{}
	for p, data := range files {
		var cm struct {
			Data map[string]string `json:"data"`
		}
		if err := yaml.Unmarshal([]byte(data), &cm); err == nil {
			out[p] = cm.Data["seq"]
		}
	}
	return out
}
