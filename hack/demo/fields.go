package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// splitRule sends the images of Deployments to Git and applies everything else from Git.
const splitRule = `apiVersion: configbutler.ai/v1alpha1
kind: WatchRule
metadata:
  name: split-deployments
spec:
  targetRef:
    name: to-folder-live-cluster
  rules:
    - apiGroups: [apps]
      resources: [deployments]
      filters: [/spec/template/spec/containers/*/image]
      syncTo: git
    - apiGroups: [apps]
      resources: [deployments]
      syncTo: kubernetes
`

const webDeployment = `# the web front end: the image follows the cluster, the rest follows Git
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: registry.example/web:1.0 # bumped by the image updater
`

// fieldsSplit shows one Deployment split field by field: its image goes cluster → Git, the rest
// Git → cluster.
func (d *demo) fieldsSplit(ctx context.Context) error {
	heading("Field by field: a Deployment's image follows the cluster, everything else follows Git")
	if err := d.kubectl(ctx, "kubectl apply -f - # WatchRule split-deployments: containers/*/image to Git, the rest from Git", splitRule,
		"apply", "-n", namespace, "-f", "-"); err != nil {
		return err
	}
	const file = folder + "/apps/web.yaml"
	if err := d.push(ctx, "Add the web Deployment", map[string]string{file: webDeployment}); err != nil {
		return err
	}
	get := func(jsonpath string) string {
		out, _ := d.cluster.Kubectl(ctx, d.cluster.Kubeconfig, "", "get", "deployment", "web", "-n", namespace,
			"--ignore-not-found", "-o", "jsonpath="+jsonpath)
		return out
	}
	if err := d.poll(ctx, 30*time.Second, func() bool { return get("{.spec.replicas}") == "2" }); err != nil {
		return fmt.Errorf("deployment web was not applied from Git: %w", err)
	}
	fmt.Println("  deployment web applied from Git: 2 replicas, image registry.example/web:1.0")

	heading("image-bot bumps the image in the cluster: one commit, one line")
	if err := d.kubectl(ctx, "", "", "set", "image", "deployment/web", "app=registry.example/web:1.1", "-n", namespace,
		"--as", "image-bot", "--as-group", "team-a"); err != nil {
		return err
	}
	var last string
	if err := d.poll(ctx, 30*time.Second, func() bool {
		last, _ = d.git(ctx, "log", "-1", "--format=%s", branch, "--", file)
		return strings.HasPrefix(last, "[UPDATE] deployments.apps")
	}); err != nil {
		return fmt.Errorf("no commit of the image change (last: %q): %w", last, err)
	}
	args := []string{"show", "--format=" + logFormat, branch, "--", file}
	fmt.Println("  $ git -C " + shellQuote(d.repoDir) + " " + shellQuote(args...))
	out, err := d.git(ctx, args...)
	if err != nil {
		return err
	}
	printIndented(out, "    ")

	heading("alice scales it by hand: put back from Git, no commit")
	if err := d.kubectl(ctx, "", "", "scale", "deployment/web", "--replicas=5", "-n", namespace, "--as", "alice", "--as-group", "team-a"); err != nil {
		return err
	}
	if err := d.poll(ctx, 30*time.Second, func() bool { return get("{.spec.replicas}") == "2" }); err != nil {
		return fmt.Errorf("the scale of deployment web was not put back: %w", err)
	}
	fmt.Printf("  replicas are %s again, image %s\n", get("{.spec.replicas}"), get("{.spec.template.spec.containers[0].image}"))
	return nil
}
