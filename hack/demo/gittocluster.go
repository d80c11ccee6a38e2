package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// fromGitRule makes ConfigMaps labelled source=git follow Git. It sorts before the quick start's
// only-configmaps, so for those ConfigMaps it is the first rule that selects them and decides
// their direction; every other ConfigMap is still written to Git.
const fromGitRule = `apiVersion: configbutler.ai/v1alpha1
kind: WatchRule
metadata:
  name: from-git
spec:
  targetRef:
    name: to-folder-live-cluster
  rules:
    - resources: [configmaps]
      labels:
        matchLabels: {source: git}
      syncTo: kubernetes
`

const greeting = `apiVersion: v1
kind: ConfigMap
metadata:
  name: greeting
  labels:
    source: git
data:
  message: hello from Git
`

// gitToCluster shows the other direction: a commit pushed to the repository becomes an object in
// the cluster, an edit of it in the cluster is put back, and removing its file prunes it.
func (d *demo) gitToCluster(ctx context.Context) error {
	heading("Git → cluster: ConfigMaps labelled source=git follow the repository")
	if err := d.kubectl(ctx, "kubectl apply -f - # WatchRule from-git: configmaps with source=git, syncTo: kubernetes", fromGitRule,
		"apply", "-n", namespace, "-f", "-"); err != nil {
		return err
	}
	file := folder + "/" + namespace + "/configmaps/greeting.yaml"
	if err := d.push(ctx, "Add the greeting", map[string]string{file: greeting}); err != nil {
		return err
	}
	var message string
	if err := d.poll(ctx, 30*time.Second, func() bool {
		message, _ = d.cluster.Kubectl(ctx, d.cluster.Kubeconfig, "", "get", "configmap", "greeting", "-n", namespace,
			"--ignore-not-found", "-o", "jsonpath={.data.message}")
		return message == "hello from Git"
	}); err != nil {
		return fmt.Errorf("configmap greeting was not applied from Git (message %q): %w", message, err)
	}
	if err := d.kubectl(ctx, "", "", "get", "configmap", "greeting", "-n", namespace, "-o",
		`custom-columns=NAME:.metadata.name,MESSAGE:.data.message,MANAGER:.metadata.managedFields[0].manager`); err != nil {
		return err
	}

	heading("bob edits it in the cluster; Git's copy is put back")
	start := time.Now()
	if err := d.kubectl(ctx, "", "", "patch", "configmap", "greeting", "-n", namespace, "--type=merge",
		"-p", `{"data":{"message":"edited by hand"}}`, "--as", "bob", "--as-group", "team-a"); err != nil {
		return err
	}
	if err := d.poll(ctx, 30*time.Second, func() bool {
		message, _ = d.cluster.Kubectl(ctx, d.cluster.Kubeconfig, "", "get", "configmap", "greeting", "-n", namespace,
			"-o", "jsonpath={.data.message}")
		return message == "hello from Git"
	}); err != nil {
		return fmt.Errorf("the edit of configmap greeting was not put back (message %q): %w", message, err)
	}
	fmt.Printf("  message is %q again, %d ms after the edit\n", message, time.Since(start).Milliseconds())

	heading("Removing the file in Git prunes the ConfigMap (only objects this target applied)")
	if err := d.push(ctx, "Remove the greeting", map[string]string{file: ""}); err != nil {
		return err
	}
	if err := d.poll(ctx, 30*time.Second, func() bool {
		out, err := d.cluster.Kubectl(ctx, d.cluster.Kubeconfig, "", "get", "configmap", "greeting", "-n", namespace,
			"--ignore-not-found", "-o", "name")
		return err == nil && out == ""
	}); err != nil {
		return fmt.Errorf("configmap greeting was not pruned: %w", err)
	}
	fmt.Println("  configmap greeting is gone")
	return d.kubectl(ctx, "", "", "get", "gittarget", target, "-n", namespace, "-o",
		`custom-columns=APPLIED:.status.conditions[?(@.type=="Applied")].reason,REVISION:.status.lastAppliedRevision,MESSAGE:.status.conditions[?(@.type=="Applied")].message`)
}

// push commits files (empty content removes one) to the branch as a person would, then asks the
// target to fetch at once instead of at its next interval, as a push webhook would.
func (d *demo) push(ctx context.Context, message string, files map[string]string) error {
	fmt.Printf("  $ git commit -am %q && git push   # in a clone of the repository\n", message)
	scratch, err := os.MkdirTemp(d.dir, "clone-")
	if err != nil {
		return err
	}
	commit, err := gitserver.PushFilesContext(ctx, scratch, d.repoDir, branch, message, files)
	if err != nil {
		return fmt.Errorf("pushing %q: %w", message, err)
	}
	fmt.Printf("    %s %s\n", commit[:7], message)
	return d.kubectl(ctx, "", "", "annotate", "--overwrite", "gittarget", target, "-n", namespace,
		"configbutler.ai/reconcile-requested-at="+time.Now().Format(time.RFC3339Nano))
}
