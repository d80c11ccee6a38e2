package stack

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/controlplane"
)

// SampleURL is the url line of config/samples/gitprovider.yaml, the seed's quick start.
const SampleURL = `url: "git@github.com:YOUR_USERNAME/my-k8s-audit.git"`

// QuickStartManifest returns the seed's quick-start objects as config/samples holds them (the
// GitProvider, GitTarget and WatchRule), with the repository URL replaced by url, the one edit the
// seed asks of its users.
func QuickStartManifest(url string) (string, error) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		return "", err
	}
	var objects []string
	for _, f := range []string{"gitprovider.yaml", "gittarget.yaml", "watchrule.yaml"} {
		data, err := os.ReadFile(filepath.Join(root, "config", "samples", f))
		if err != nil {
			return "", err
		}
		objects = append(objects, string(data))
	}
	manifest := strings.Join(objects, "\n---\n")
	if !strings.Contains(manifest, SampleURL) {
		return "", errors.New("config/samples/gitprovider.yaml no longer has the line " + SampleURL)
	}
	return strings.Replace(manifest, SampleURL, `url: "`+url+`"`, 1), nil
}

// SecretsWatchRule adds Secrets to the quick start's GitTarget: they are written encrypted with
// the age key the target generates.
const SecretsWatchRule = `apiVersion: configbutler.ai/v1alpha1
kind: WatchRule
metadata:
  name: secrets
spec:
  targetRef:
    name: to-folder-live-cluster
  rules:
    - resources: [secrets]
`
