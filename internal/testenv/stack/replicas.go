package stack

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/controlplane"
)

// Install names what dist/install.yaml puts in the cluster that the replicas need.
const (
	InstallNamespace = "gitops-reverser-system"
	webhookService   = "gitops-reverser-webhook-service"
	installDeploy    = "gitops-reverser-controller-manager"
)

// Replicated is a control plane that reaches the operator's webhooks the way a cluster does,
// through the webhook Service of dist/install.yaml and an EndpointSlice per ready replica, and
// the operator's binary run as replicas with the install's own arguments: leader election, the
// certificate they make themselves, attribution facts shared between them.
type Replicated struct {
	Env        *controlplane.Env
	Dir        string
	Kubeconfig string
	// IP is the address the replicas listen on: EndpointSlices refuse loopback.
	IP   net.IP
	args []string
}

// StartReplicated starts the control plane and applies the install's namespace, Service, Secret
// and webhook configurations. dir holds kubeconfigs, logs and the replicas' directories.
func StartReplicated(ctx context.Context, dir string) (*Replicated, error) {
	ip, err := HostIP()
	if err != nil {
		return nil, err
	}
	env, err := controlplane.Start(ctx, controlplane.Options{APIServerFlags: map[string]string{
		"enable-aggregator-routing": "true",
		// On SIGTERM, end open watches within 2s instead of leaving them to the HTTP server's
		// 60s shutdown timeout, as clusters that restart their API servers often do.
		"shutdown-watch-termination-grace-period": "2s",
	}})
	if err != nil {
		return nil, err
	}
	r := &Replicated{Env: env, Dir: dir, Kubeconfig: filepath.Join(dir, "admin.kubeconfig"), IP: ip}
	if err := env.WriteKubeconfig(r.Kubeconfig); err != nil {
		_ = env.Stop()
		return nil, err
	}
	if err := r.install(ctx); err != nil {
		_ = env.Stop()
		return nil, err
	}
	return r, nil
}

// install applies what of dist/install.yaml a process outside a pod needs, and reads the
// Deployment's arguments.
func (r *Replicated) install(ctx context.Context) error {
	root, err := controlplane.RepoRoot()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(root, "dist", "install.yaml"))
	if err != nil {
		return err
	}
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil || len(u.Object) == 0 {
			continue
		}
		switch u.GetKind() {
		case "Namespace", "Service", "Secret", "ValidatingWebhookConfiguration":
			if err := r.Env.Client.Create(ctx, u); err != nil {
				return fmt.Errorf("installing %s %s: %w", u.GetKind(), u.GetName(), err)
			}
		case "Deployment":
			d := &appsv1.Deployment{}
			if err := yaml.Unmarshal(doc, d); err != nil {
				return err
			}
			r.args = d.Spec.Template.Spec.Containers[0].Args
		}
	}
	if r.args == nil {
		return fmt.Errorf("dist/install.yaml has no Deployment")
	}
	return nil
}

// Stop stops the control plane.
func (r *Replicated) Stop() error { return r.Env.Stop() }

// Replica is one operator process.
type Replica struct {
	Name string
	*Operator
	port, probes, metrics int
	r                     *Replicated
}

// StartReplica starts the operator binary as replica name, with the install's arguments, then
// extra. It does not wait for it: see Ready and Publish.
func (r *Replicated) StartReplica(binary, name string, extra ...string) (*Replica, error) {
	ports := make([]int, 3)
	for i := range ports {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	dir := filepath.Join(r.Dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	args := append(append([]string(nil), r.args...),
		"--webhook-host="+r.IP.String(), "--webhook-port="+strconv.Itoa(ports[0]),
		"--webhook-cert-dir="+filepath.Join(dir, "certs"), "--work-dir="+filepath.Join(dir, "work"),
		"--health-probe-bind-address=127.0.0.1:"+strconv.Itoa(ports[1]),
		"--metrics-bind-address=127.0.0.1:"+strconv.Itoa(ports[2]))
	args = append(args, extra...)
	op, err := StartOperatorIn("", []string{"POD_NAMESPACE=" + InstallNamespace}, binary, r.Kubeconfig,
		filepath.Join(r.Dir, name+".log"), args...)
	if err != nil {
		return nil, err
	}
	return &Replica{Name: name, Operator: op, port: ports[0], probes: ports[1], metrics: ports[2], r: r}, nil
}

// Ready reports whether the replica's readiness probe succeeds.
func (p *Replica) Ready() bool {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", p.probes)) //nolint:gosec // loopback
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Leading reports whether the replica holds the Lease, from its own leader election metric.
func (p *Replica) Leading() bool { return p.Metric("leader_election_master_status") == 1 }

// Metric is the value of the replica's metric name (the sum over its label sets); 0 when absent
// or unreadable.
func (p *Replica) Metric(name string) float64 {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", p.metrics)) //nolint:gosec // loopback
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line != name && !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// Publish lists the replica in the webhook Service's EndpointSlices, as the EndpointSlice
// controller does for a ready pod; Unpublish takes it out, as it does once the pod is gone.
func (p *Replica) Publish(ctx context.Context) error {
	return p.r.Env.Client.Create(ctx, WebhookEndpoint(InstallNamespace, webhookService, p.Name, p.r.IP, p.port))
}

// WebhookEndpoint is an EndpointSlice of Service service (port name "webhook") with one ready
// address, ip:port, named after the Service and suffix.
func WebhookEndpoint(namespace, service, suffix string, ip net.IP, port int) *discoveryv1.EndpointSlice {
	addressType := discoveryv1.AddressTypeIPv4
	if ip.To4() == nil {
		addressType = discoveryv1.AddressTypeIPv6
	}
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: service + "-" + suffix, Namespace: namespace,
			Labels: map[string]string{discoveryv1.LabelServiceName: service},
		},
		AddressType: addressType,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip.String()}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("webhook"), Port: ptr.To(int32(port))}},
	}
}

// Unpublish removes the replica's EndpointSlice.
func (p *Replica) Unpublish(ctx context.Context) error {
	return p.r.Env.Client.Delete(ctx, &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{
		Name: webhookService + "-" + p.Name, Namespace: InstallNamespace,
	}})
}

// WaitReady waits until the replica is ready, then publishes it.
func (p *Replica) WaitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !p.Ready() {
		select {
		case <-p.Done():
			return fmt.Errorf("replica %s exited: %s", p.Name, strings.Join(LogTail(p.Log, 20), "\n"))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replica %s not ready after %s: %s", p.Name, timeout, strings.Join(LogTail(p.Log, 20), "\n"))
		}
	}
	return p.Publish(ctx)
}
