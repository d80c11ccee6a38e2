package controller

import (
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// newNamespace gives each test its own namespace.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "t-"}}
	NewWithT(t).Expect(env.Client.Create(t.Context(), ns)).To(Succeed())
	return ns.Name
}

func createSecret(t *testing.T, ns, name string, data map[string][]byte) {
	t.Helper()
	NewWithT(t).Expect(env.Client.Create(t.Context(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data,
	})).To(Succeed())
}

func createProvider(t *testing.T, ns, name, url string, mutate ...func(*configv1alpha1.GitProvider)) {
	t.Helper()
	p := &configv1alpha1.GitProvider{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: configv1alpha1.GitProviderSpec{
			URL: url, AllowedBranches: []string{"*"}, SecretRef: &configv1alpha1.LocalObjectReference{Name: "git-creds"},
		},
	}
	for _, m := range mutate {
		m(p)
	}
	NewWithT(t).Expect(env.Client.Create(t.Context(), p)).To(Succeed())
}

// readyOf returns the Ready condition's status, reason and message as one string.
func readyOf(t *testing.T, obj client.Object, conditions func() []metav1.Condition) func() string {
	return func() string {
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err.Error()
		}
		c := meta.FindStatusCondition(conditions(), configv1alpha1.ReadyCondition)
		if c == nil {
			return "no Ready condition"
		}
		return fmt.Sprintf("%s %s: %s", c.Status, c.Reason, c.Message)
	}
}

func providerReady(t *testing.T, ns, name string) func() string {
	p := &configv1alpha1.GitProvider{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	return readyOf(t, p, func() []metav1.Condition { return p.Status.Conditions })
}

func newSSH(t *testing.T) *gitserver.SSHRepo {
	t.Helper()
	return gitserver.NewSSHRepo(t, "repo")
}

func TestGitProviderReportsWhetherItCanConnect(t *testing.T) {
	ssh := newSSH(t)
	stranger, err := gitserver.NewClientKey()
	if err != nil {
		t.Fatal(err)
	}
	otherServer := newSSH(t)
	// A known_hosts line for our server's address holding another server's host key.
	wrongHostKey := strings.Replace(otherServer.Server.KnownHosts(), otherServer.Server.Addr()[strings.LastIndex(otherServer.Server.Addr(), ":")+1:]+"]",
		ssh.Server.Addr()[strings.LastIndex(ssh.Server.Addr(), ":")+1:]+"]", 1)

	cases := []struct {
		name   string
		secret map[string][]byte
		mutate func(*configv1alpha1.GitProvider)
		want   string
	}{
		{"kubernetes key names", map[string][]byte{"ssh-privatekey": ssh.Key.PrivateKeyPEM, "known_hosts": []byte(ssh.Server.KnownHosts())}, nil,
			"True Connected: connected to " + ssh.URL},
		{"flux key names", map[string][]byte{"identity": ssh.Key.PrivateKeyPEM, "known_hosts": []byte(ssh.Server.KnownHosts())}, nil,
			"True Connected"},
		{"argo cd key name, known_hosts from a ConfigMap", map[string][]byte{"sshPrivateKey": ssh.Key.PrivateKeyPEM},
			func(p *configv1alpha1.GitProvider) {
				p.Spec.KnownHosts = &configv1alpha1.KnownHostsSource{ConfigMapRef: &configv1alpha1.ConfigMapKeyReference{Name: "ssh-known-hosts"}}
			}, "True Connected"},
		{"wrong host key", map[string][]byte{"ssh-privatekey": ssh.Key.PrivateKeyPEM, "known_hosts": []byte(wrongHostKey)}, nil,
			"False HostKeyMismatch: "},
		{"no known_hosts", map[string][]byte{"ssh-privatekey": ssh.Key.PrivateKeyPEM}, nil,
			"False HostKeyMismatch: no known_hosts for SSH host key verification: add the host's keys (ssh-keyscan -p"},
		{"key the server does not know", map[string][]byte{"ssh-privatekey": stranger.PrivateKeyPEM, "known_hosts": []byte(ssh.Server.KnownHosts())}, nil,
			"False AuthenticationFailed: "},
		{"garbage key", map[string][]byte{"ssh-privatekey": []byte("not a key"), "known_hosts": []byte(ssh.Server.KnownHosts())}, nil,
			"False InvalidCredentials: "},
		{"signing key that is no key", map[string][]byte{"ssh-privatekey": ssh.Key.PrivateKeyPEM, "known_hosts": []byte(ssh.Server.KnownHosts())},
			func(p *configv1alpha1.GitProvider) {
				p.Spec.Signing = &configv1alpha1.CommitSigning{SecretRef: configv1alpha1.LocalObjectReference{Name: "bad-signing-key"}}
			}, "False InvalidCredentials: signing Secret bad-signing-key: invalid credentials: reading the SSH signing key"},
		{"signing Secret without signing.key", map[string][]byte{"ssh-privatekey": ssh.Key.PrivateKeyPEM, "known_hosts": []byte(ssh.Server.KnownHosts())},
			func(p *configv1alpha1.GitProvider) {
				p.Spec.Signing = &configv1alpha1.CommitSigning{SecretRef: configv1alpha1.LocalObjectReference{Name: "git-creds"}}
			}, "False InvalidCredentials: signing Secret git-creds has no key signing.key"},
		{"usable signing key", map[string][]byte{"ssh-privatekey": ssh.Key.PrivateKeyPEM, "known_hosts": []byte(ssh.Server.KnownHosts())},
			func(p *configv1alpha1.GitProvider) {
				p.Spec.Signing = &configv1alpha1.CommitSigning{SecretRef: configv1alpha1.LocalObjectReference{Name: "good-signing-key"}}
			}, "True Connected"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ns := newNamespace(t)
			createSecret(t, ns, "git-creds", tc.secret)
			createSecret(t, ns, "bad-signing-key", map[string][]byte{"signing.key": []byte("nope")})
			createSecret(t, ns, "good-signing-key", map[string][]byte{"signing.key": stranger.PrivateKeyPEM})
			g.Expect(env.Client.Create(t.Context(), &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ssh-known-hosts"},
				Data:       map[string]string{"known_hosts": ssh.Server.KnownHosts()},
			})).To(Succeed())
			createProvider(t, ns, "repo", ssh.URL, func(p *configv1alpha1.GitProvider) {
				if tc.mutate != nil {
					tc.mutate(p)
				}
			})
			g.Eventually(providerReady(t, ns, "repo")).WithTimeout(30 * time.Second).Should(HavePrefix(tc.want))
			g.Expect(gitserver.Refs(t, ssh.Dir)).To(BeEmpty(), "a check must never write")
		})
	}
}

func TestGitProviderFollowsItsSecretAndTheRemote(t *testing.T) {
	g := NewWithT(t)
	ssh := newSSH(t)
	ns := newNamespace(t)
	createProvider(t, ns, "repo", ssh.URL)
	g.Eventually(providerReady(t, ns, "repo")).WithTimeout(30 * time.Second).
		Should(Equal(fmt.Sprintf("False SecretNotFound: Secret git-creds not found in namespace %s", ns)))

	// Creating the Secret is enough: the controller watches it.
	createSecret(t, ns, "git-creds", map[string][]byte{"ssh-privatekey": ssh.Key.PrivateKeyPEM, "known_hosts": []byte(ssh.Server.KnownHosts())})
	g.Eventually(providerReady(t, ns, "repo")).WithTimeout(30 * time.Second).Should(HavePrefix("True Connected"))

	// The remote goes away and comes back.
	g.Expect(ssh.Server.Stop()).To(Succeed())
	p := &configv1alpha1.GitProvider{}
	g.Expect(env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "repo"}, p)).To(Succeed())
	patch := client.MergeFrom(p.DeepCopy())
	p.Spec.Push.MaxCommits = ptr(int32(5)) // any spec change makes the controller look again now
	g.Expect(env.Client.Patch(t.Context(), p, patch)).To(Succeed())
	g.Eventually(providerReady(t, ns, "repo")).WithTimeout(30 * time.Second).Should(MatchRegexp(`^False Unreachable: .*connection refused`))
	g.Expect(ssh.Server.Start()).To(Succeed())
	g.Eventually(providerReady(t, ns, "repo")).WithTimeout(30 * time.Second).Should(HavePrefix("True Connected"))

	// Every transition was announced with an Event (they are recorded asynchronously).
	g.Eventually(func() []string {
		events := &corev1.EventList{}
		if err := env.Client.List(t.Context(), events, client.InNamespace(ns)); err != nil {
			return nil
		}
		var reasons []string
		for _, e := range events.Items {
			reasons = append(reasons, e.Reason)
		}
		return reasons
	}).WithTimeout(30 * time.Second).Should(ContainElements("SecretNotFound", "Connected", "Unreachable"))
}

func TestGitProviderOverHTTPS(t *testing.T) {
	root := t.TempDir()
	server := gitserver.StartHTTPSServer(t, root, gitserver.Credential{Username: "bot", Password: "s3cret"})
	gitserver.NewBareRepo(t, root, "repo")
	for _, tc := range []struct {
		name, password string
		ca             []byte
		want           types.GomegaMatcher
	}{
		{"right password", "s3cret", server.CAPEM(), HavePrefix("True Connected")},
		// The server answers a wrong password with Apache httpd's HTML page.
		{"wrong password", "guess", server.CAPEM(), And(HavePrefix("False AuthenticationFailed: listing the branches of "), HaveSuffix(": authentication required (HTTP 401): 401 Unauthorized"))},
		{"a CA the provider does not trust", "s3cret", nil, And(HavePrefix("False TLSVerificationFailed: "),
			ContainSubstring("x509: certificate signed by unknown authority"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNamespace(t)
			data := map[string][]byte{"username": []byte("bot"), "password": []byte(tc.password)}
			if tc.ca != nil {
				data["ca.crt"] = tc.ca
			}
			createSecret(t, ns, "git-creds", data)
			createProvider(t, ns, "repo", server.URL("repo"))
			NewWithT(t).Eventually(providerReady(t, ns, "repo")).WithTimeout(30 * time.Second).Should(tc.want)
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestAFailingWriterShowsOnItsProvider(t *testing.T) {
	g := NewWithT(t)
	ssh := newSSH(t)
	ns := newNamespace(t)
	createSecret(t, ns, "git-creds", map[string][]byte{"ssh-privatekey": ssh.Key.PrivateKeyPEM, "known_hosts": []byte(ssh.Server.KnownHosts())})
	createProvider(t, ns, "repo", ssh.URL)
	g.Eventually(providerReady(t, ns, "repo")).WithTimeout(30 * time.Second).Should(HavePrefix("True Connected"))

	// A writer of this repository whose pushes are refused (say, its deploy key was revoked).
	revoked, err := gitserver.NewClientKey()
	g.Expect(err).NotTo(HaveOccurred())
	key := gitwriter.Key{URL: ssh.URL, Branch: "main"}
	w, err := registry.Acquire(t.Context(), "test", key, gitwriter.Settings{
		Credentials: gitwriter.Credentials{SSHPrivateKey: revoked.PrivateKeyPEM, KnownHosts: []byte(ssh.Server.KnownHosts())},
		Push:        gitwriter.PushPolicy{MaxCommits: 1},
	})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { registry.Release("test", key) })
	_, err = w.Commit(t.Context(), gitwriter.Change{
		Ops:     []gitwriter.FileOp{{Path: "live/default/configmaps/a.yaml", Data: []byte("a: 1\n")}},
		Author:  gitwriter.Signature{Name: "alice", Email: "alice@example.com", When: time.Now()},
		Message: "[CREATE] configmaps default/a",
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(providerReady(t, ns, "repo")).WithTimeout(30 * time.Second).
		Should(MatchRegexp(`^False AuthenticationFailed: pushing to branch main: .*unable to authenticate.* \(1 commits waiting\)`))
}
