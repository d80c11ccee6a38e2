package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/manifest"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// restart kills the operator, changes objects while it is down, starts it, and measures until the
// folder on the remote equals the cluster again.
func (b *bench) restart(ctx context.Context) (time.Duration, error) {
	fmt.Printf("kill -9, then %d changes while the operator is down\n", restartChanges)
	b.Operator.Kill()
	cms := b.Clients.CoreV1().ConfigMaps(namespace)
	for i := range restartChanges / 2 {
		if _, err := cms.Update(ctx, configMap(fmt.Sprintf("cm-%d", b.cfg.objects-1-i), "while-down"), metav1.UpdateOptions{}); err != nil {
			return 0, err
		}
	}
	for i := range restartChanges / 4 {
		if err := cms.Delete(ctx, fmt.Sprintf("cm-%d", b.cfg.objects/2+i), metav1.DeleteOptions{}); err != nil {
			return 0, err
		}
		if _, err := cms.Create(ctx, configMap(fmt.Sprintf("new-%d", i), "while-down"), metav1.CreateOptions{}); err != nil {
			return 0, err
		}
	}
	began := time.Now()
	if err := b.startOperator(); err != nil {
		return 0, err
	}
	// The changes come back one commit each from Git's cursor, and the reconcile after them
	// finds nothing left: the restart is over when the remote holds them all.
	deadline := began.Add(120 * time.Second)
	for {
		err := b.converged(ctx, namespace, folder)
		if err == nil {
			return time.Since(began), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("not converged 120s after the restart: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// converged checks that every ConfigMap of ns is in folder on the remote, sanitized, and
// nothing else is: nothing lost, nothing stale.
func (b *bench) converged(ctx context.Context, ns, folder string) error {
	list, err := b.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	want := map[string]string{}
	for i := range list.Items {
		data, err := manifest.Encode(manifest.Sanitize(&list.Items[i]))
		if err != nil {
			return err
		}
		want[folder+"/"+list.Items[i].GetName()+".yaml"] = gitwriter.BlobHash(data).String()
	}
	out, err := gitserver.Run(ctx, b.RepoDir, nil, "ls-tree", "-r", branch, "--", folder)
	if err != nil {
		return err
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		// <mode> blob <hash>\t<path>
		meta, path, ok := strings.Cut(line, "\t")
		if !strings.HasSuffix(path, ".yaml") {
			continue // the push floor's file, which the operator leaves alone too
		}
		if f := strings.Fields(meta); ok && len(f) == 3 {
			got[path] = f[2]
		}
	}
	var problems []string
	for p, h := range want {
		if got[p] != h {
			problems = append(problems, "differs or missing: "+p)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			problems = append(problems, "stale: "+p)
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("the remote does not equal the cluster (%d problems), first: %s", len(problems), problems[0])
	}
	return nil
}
