package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/stack"
)

// logFormat is how the history is shown: who, what, and the attribution trailers.
const logFormat = "%h %an <%ae>%n    %s%n%(trailers:only,unfold)"

// play applies the quick start, lets alice and bob change ConfigMaps, shows the history, then
// shows Git → cluster.
func (d *demo) play(ctx context.Context) error {
	if err := d.quickStart(ctx); err != nil {
		return err
	}
	if err := d.changeConfigMaps(ctx); err != nil {
		return err
	}
	if err := d.showHistory(ctx); err != nil {
		return err
	}
	if err := d.gitToCluster(ctx); err != nil {
		return err
	}
	return d.fieldsSplit(ctx)
}

// quickStart applies the README's quick start as test/e2e does: the git-creds Secret made the
// way the README makes it, then config/samples' GitProvider (with our repository's URL),
// GitTarget and WatchRule. It waits until the GitTarget is Ready.
func (d *demo) quickStart(ctx context.Context) error {
	heading("Applying the quick start in namespace " + namespace)
	keyFile := filepath.Join(d.dir, "gitops-reverser-key")
	if err := os.WriteFile(keyFile, d.key.PrivateKeyPEM, 0o600); err != nil {
		return fmt.Errorf("writing the deploy key: %w", err)
	}
	secret, err := d.cluster.Kubectl(ctx, d.cluster.Kubeconfig, "", "create", "secret", "generic", "git-creds",
		"-n", namespace, "--from-file=ssh-privatekey="+keyFile, "--from-literal=known_hosts="+d.server.KnownHosts(),
		"--dry-run=client", "-o", "yaml")
	if err != nil {
		return err
	}
	shown := "kubectl create secret generic git-creds --from-file=ssh-privatekey=" + shellQuote(keyFile) +
		` --from-literal=known_hosts="<the Git server's host key>" --dry-run=client -o yaml | kubectl apply -f -`
	if err := d.kubectl(ctx, shown, secret, "apply", "-n", namespace, "-f", "-"); err != nil {
		return err
	}

	manifest, err := stack.QuickStartManifest(d.repoURL)
	if err != nil {
		return err
	}
	shown = "kubectl apply -f config/samples/{gitprovider,gittarget,watchrule}.yaml   # url: " + d.repoURL
	if err := d.kubectl(ctx, shown, manifest, "apply", "-n", namespace, "-f", "-"); err != nil {
		return err
	}

	fmt.Printf("  waiting for gittarget %s to be Ready\n", target)
	var last string
	err = d.poll(ctx, 60*time.Second, func() bool {
		last, _ = d.cluster.Kubectl(ctx, d.cluster.Kubeconfig, "", "get", "gittarget", target, "-n", namespace, "-o",
			`jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}`)
		return last == "True Synced"
	})
	if err != nil {
		return fmt.Errorf("gittarget %s is not Ready (Ready condition: %q): %w", target, last, err)
	}
	return d.kubectl(ctx, "", "", "get", "gitprovider,gittarget,watchrule", "-n", namespace)
}

// The ConfigMap changes of the scenario, in order, with the commit subject each makes.
var changes = []struct {
	user    string
	args    []string
	subject string
}{
	{"alice", []string{"create", "configmap", "test-config", "--from-literal=key=value"}, "[CREATE] configmaps default/test-config"},
	{"bob", []string{"patch", "configmap", "test-config", "--type=merge", "-p", `{"data":{"key":"changed"}}`}, "[UPDATE] configmaps default/test-config"},
	{"alice", []string{"create", "configmap", "feature-flags", "--from-literal=dark-mode=true"}, "[CREATE] configmaps default/feature-flags"},
	{"bob", []string{"delete", "configmap", "test-config"}, "[DELETE] configmaps default/test-config"},
	{"alice", []string{"create", "secret", "generic", "db-password", "--from-literal=password=hunter2"}, "[CREATE] secrets default/db-password"},
}

// changeConfigMaps lets team-a edit ConfigMaps and makes the scenario's changes as alice and
// bob, impersonated by the admin, then waits until their commits are on the remote.
func (d *demo) changeConfigMaps(ctx context.Context) error {
	heading("Secrets too: a WatchRule for them (written encrypted with the generated age key)")
	if err := d.kubectl(ctx, "kubectl apply -f - # WatchRule secrets: resources [secrets]", stack.SecretsWatchRule, "apply", "-n", namespace, "-f", "-"); err != nil {
		return err
	}
	heading("alice, bob and image-bot (group team-a) may edit ConfigMaps, Secrets and Deployments in " + namespace)
	// The built-in edit role is aggregated by kube-controller-manager, which does not run here.
	for _, args := range [][]string{
		{"create", "role", "team-a", "--verb=*", "--resource=configmaps,secrets,deployments.apps,deployments.apps/scale"},
		{"create", "rolebinding", "team-a", "--role=team-a", "--group=team-a"},
	} {
		if err := d.kubectl(ctx, "", "", args...); err != nil {
			return err
		}
	}

	heading("Changing ConfigMaps and a Secret as alice and as bob (the admin impersonates them)")
	for _, c := range changes {
		if err := d.kubectl(ctx, "", "", append(c.args, "--as", c.user, "--as-group", "team-a")...); err != nil {
			return err
		}
	}

	fmt.Printf("  waiting for %d commits on the remote (pushes every 5s)\n", len(changes))
	var missing []string
	err := d.poll(ctx, 60*time.Second, func() bool {
		out, err := d.git(ctx, "log", "--format=%s", branch, "--")
		if err != nil { // no branch yet
			return false
		}
		subjects := strings.Split(out, "\n")
		missing = missing[:0]
		for _, c := range changes {
			if !slices.Contains(subjects, c.subject) {
				missing = append(missing, c.subject)
			}
		}
		return len(missing) == 0
	})
	if err != nil {
		return fmt.Errorf("commits missing on the remote: %s: %w", strings.Join(missing, ", "), err)
	}
	return nil
}

// showHistory prints the branch's history, its last commit and the folder, with the git
// commands that show them.
func (d *demo) showHistory(ctx context.Context) error {
	for _, step := range []struct {
		title string
		args  []string
	}{
		{"The history on the remote, branch " + branch, []string{"log", "--format=" + logFormat, branch}},
		{"The last commit", []string{"show", "--stat", branch}},
		{"The folder " + folder + "/", []string{"ls-tree", "-r", "--name-only", branch, "--", folder}},
		{"The Secret, as Git holds it", []string{"show", branch + ":" + folder + "/default/secrets/db-password.sops.yaml"}},
	} {
		heading(step.title)
		fmt.Println("  $ git -C " + shellQuote(d.repoDir) + " " + shellQuote(step.args...))
		out, err := d.git(ctx, step.args...)
		if err != nil {
			return err
		}
		printIndented(out, "    ")
	}
	return nil
}

// explain says how to look around while the demo runs.
func (d *demo) explain() {
	heading("Explore while it runs")
	fmt.Println("  export KUBECONFIG=" + shellQuote(d.cluster.Kubeconfig))
	fmt.Println("  export PATH=" + shellQuote(filepath.Dir(d.cluster.Env.Kubectl)) + ":$PATH   # this kubectl, if you have none")
	fmt.Println("  kubectl create configmap hello --from-literal=a=b --as carol --as-group team-a")
	fmt.Println("  git clone -b " + branch + " " + shellQuote(d.repoDir))
	fmt.Println("  # a ConfigMap labelled source=git pushed under " + folder + "/ is applied within the GitTarget's interval (1m)")
	fmt.Println("  less " + shellQuote(d.operatorLog()) + "   # the operator's log")
	fmt.Println()
	fmt.Println("Press Ctrl-C to stop.")
}

// kubectl prints a command line (shown, or kubectl with args when empty), runs kubectl with args
// as the admin, and prints its output.
func (d *demo) kubectl(ctx context.Context, shown, stdin string, args ...string) error {
	if shown == "" {
		shown = "kubectl " + shellQuote(args...)
	}
	fmt.Println("  $ " + shown)
	out, err := d.cluster.Kubectl(ctx, d.cluster.Kubeconfig, stdin, args...)
	if err != nil {
		return err
	}
	printIndented(out, "    ")
	return nil
}

// git runs git in the bare repository.
func (d *demo) git(ctx context.Context, args ...string) (string, error) {
	return gitserver.Run(ctx, d.repoDir, gitserver.Env(d.dir), args...)
}

// poll calls done until it reports true, for at most timeout. It gives up early when ctx ends or
// the operator exits.
func (d *demo) poll(ctx context.Context, timeout time.Duration, done func() bool) error {
	deadline := time.After(timeout)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.operator.Done():
			return fmt.Errorf("the operator exited; see %s", d.operatorLog())
		case <-deadline:
			return fmt.Errorf("timed out after %s", timeout)
		case <-tick.C:
		}
	}
	return nil
}
