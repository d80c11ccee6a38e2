package controlplane

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A restarted API server serves the same data on the same address with the same certificates:
// clients made before the restart go on working.
func TestRestartAPIServerKeepsDataAndClients(t *testing.T) {
	ctx := context.Background()
	env, err := Start(ctx, Options{WithoutCRDs: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	}()
	user, err := env.UserConfig("someone", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	userClient, err := client.New(user, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept", Namespace: "default"}, Data: map[string]string{"k": "v"}}
	if err := env.Client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := env.RestartAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted in %s", time.Since(began))
	for _, c := range []client.Client{env.Client, userClient} {
		got := &corev1.ConfigMap{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(cm), got); err != nil {
			t.Fatalf("reading after the restart: %v", err)
		}
		if got.Data["k"] != "v" {
			t.Fatalf("the ConfigMap after the restart: %v", got.Data)
		}
	}
}
