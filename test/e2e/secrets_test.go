package e2e

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitops-reverser/gitops-reverser/internal/manifest"
	"github.com/gitops-reverser/gitops-reverser/internal/secrets"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testenv/stack"
)

// encryptedQuickStart is the quick start (its GitTarget generates an age key when missing) with a
// WatchRule for Secrets, and alice allowed to write them.
func encryptedQuickStart(t *testing.T, ns string) (*gitserver.SSHRepo, string) {
	t.Helper()
	repo := gitserver.NewSSHRepo(t, "secrets")
	runOperator(t, "admission", t.TempDir())
	quickStart(t, ns, repo)
	kubectl(t, stack.SecretsWatchRule, "apply", "-n", ns, "-f", "-")
	return repo, teamMember(t, ns, "alice")
}

// generatedKeys reads the age key the operator generated into the quick start's Secret.
func generatedKeys(t *testing.T, ns string) (secrets.Keys, *corev1.Secret) {
	t.Helper()
	secret := &corev1.Secret{}
	NewWithT(t).Eventually(func() error {
		return cluster.Env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "sops-age-key"}, secret)
	}).WithTimeout(30 * time.Second).Should(Succeed())
	var ids []*age.X25519Identity
	for name, data := range secret.Data {
		if strings.HasSuffix(name, ".agekey") {
			parsed, err := secrets.ParseIdentities(data)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, parsed...)
		}
	}
	keys, err := secrets.NewKeys(nil, ids, true)
	if err != nil {
		t.Fatal(err)
	}
	return keys, secret
}

// sanitizedSecret is what the folder must hold of a live Secret, decrypted.
func sanitizedSecret(t *testing.T, ns, name string) string {
	t.Helper()
	s := &corev1.Secret{}
	if err := cluster.Env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		t.Fatal(err)
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(s)
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{Object: u}
	obj.SetAPIVersion("v1")
	obj.SetKind("Secret")
	data, err := manifest.Encode(manifest.Sanitize(obj))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestTheQuickStartEncryptsSecretsWithTheKeyItGenerates(t *testing.T) {
	g := NewWithT(t)
	const ns = "encrypted"
	repo, alice := encryptedQuickStart(t, ns)
	keys, keySecret := generatedKeys(t, ns)
	g.Expect(keySecret.Annotations).To(HaveKeyWithValue("configbutler.ai/backup-warning", "REMOVE_AFTER_BACKUP"))
	g.Expect(keySecret.Annotations).To(HaveKeyWithValue("configbutler.ai/age-recipient", keys.Recipients[0]))

	kubectlAs(t, alice, "", "create", "secret", "generic", "db", "--from-literal=password=hunter2", "-n", ns)
	created := eventuallyOneCommit(t, repo, "[CREATE] secrets "+ns+"/db")
	g.Expect(created.AuthorName).To(Equal("alice"))
	const path = "live-cluster/" + ns + "/secrets/db.sops.yaml"
	file := files(t, repo, "live-cluster")[path]
	g.Expect(file).To(ContainSubstring("password: ENC[AES256_GCM,"))
	g.Expect(file).To(ContainSubstring("name: db"))
	g.Expect(file).NotTo(Or(ContainSubstring("hunter2"), ContainSubstring(base64.StdEncoding.EncodeToString([]byte("hunter2")))))
	plain, err := secrets.Decrypt([]byte(file), keys)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(plain)).To(Equal(sanitizedSecret(t, ns, "db")))
	g.Expect(files(t, repo, "live-cluster")["live-cluster/.sops.yaml"]).To(ContainSubstring("age: " + keys.Recipients[0]))

	// Touching the Secret without changing it makes no commit.
	kubectlAs(t, alice, "", "annotate", "secret", "db", "-n", ns, "kubectl.kubernetes.io/last-applied-configuration={}")
	g.Consistently(func() int { return len(commits(t, repo)) }).WithTimeout(3 * time.Second).Should(Equal(len(commits(t, repo))))

	condition := func() string {
		return kubectl(t, "", "get", "gittarget", "to-folder-live-cluster", "-n", ns, "-o",
			`jsonpath={.status.conditions[?(@.type=="EncryptionKeyBackedUp")].status} {.status.conditions[?(@.type=="EncryptionKeyBackedUp")].reason}`)
	}
	g.Eventually(condition).WithTimeout(30 * time.Second).Should(Equal("False KeyNotBackedUp"))
	kubectl(t, "", "annotate", "secret", "sops-age-key", "-n", ns, "configbutler.ai/backup-warning-")
	g.Eventually(condition).WithTimeout(30 * time.Second).Should(Equal("True KeyBackedUp"))
}

// Many Secrets created, changed and deleted: no value ever appears, in plaintext or base64, in
// any blob of any commit on the remote.
func TestNoSecretValueReachesAnyBlobOfTheHistory(t *testing.T) {
	g := NewWithT(t)
	const ns = "no-plaintext"
	repo, alice := encryptedQuickStart(t, ns)
	var values []string
	value := func(i, round int) string {
		v := fmt.Sprintf("s3cr3t-%d-%d-%d", i, round, time.Now().UnixNano())
		values = append(values, v)
		return v
	}
	for i := range 12 {
		kubectlAs(t, alice, "", "create", "secret", "generic", fmt.Sprintf("s%d", i), "-n", ns,
			"--from-literal=token="+value(i, 0), "--from-literal=other="+value(i, 1))
	}
	for i := range 6 {
		secret := kubectlAs(t, alice, "", "create", "secret", "generic", fmt.Sprintf("s%d", i), "-n", ns,
			"--from-literal=token="+value(i, 2), "--from-literal=other="+value(i, 1), "--dry-run=client", "-o", "yaml")
		kubectlAs(t, alice, secret, "apply", "-n", ns, "-f", "-")
	}
	for i := 8; i < 12; i++ {
		kubectlAs(t, alice, "", "delete", "secret", fmt.Sprintf("s%d", i), "-n", ns)
	}
	keys, _ := generatedKeys(t, ns)
	// The deploy key in git-creds is a Secret too, and must not leak either.
	values = append(values, strings.TrimSpace(string(repo.Key.PrivateKeyPEM)))
	g.Eventually(func() map[string]string {
		out := map[string]string{}
		for p, content := range files(t, repo, "live-cluster/"+ns+"/secrets") {
			if strings.HasSuffix(p, "/git-creds.sops.yaml") {
				continue
			}
			plain, err := secrets.Decrypt([]byte(content), keys)
			if err != nil {
				return nil
			}
			out[p] = string(plain)
		}
		return out
	}).WithTimeout(60 * time.Second).Should(Equal(func() map[string]string {
		want := map[string]string{}
		for i := range 8 {
			want[fmt.Sprintf("live-cluster/%s/secrets/s%d.sops.yaml", ns, i)] = sanitizedSecret(t, ns, fmt.Sprintf("s%d", i))
		}
		return want
	}()))

	objects := gitserver.Git(t, repo.Dir, "rev-list", "--objects", "--all")
	blobs := 0
	for _, line := range strings.Split(objects, "\n") {
		hash, _, _ := strings.Cut(line, " ")
		if hash == "" || gitserver.Git(t, repo.Dir, "cat-file", "-t", hash) != "blob" {
			continue
		}
		blobs++
		content := gitserver.Git(t, repo.Dir, "cat-file", "-p", hash)
		for _, v := range values {
			for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v)), base64.RawStdEncoding.EncodeToString([]byte(v))} {
				if strings.Contains(content, form) {
					t.Fatalf("blob %s holds a Secret value in the clear", hash)
				}
			}
		}
	}
	g.Expect(blobs).To(BeNumerically(">", 12))
	// The target's own age key is never written, not even encrypted: every recipient could open it.
	g.Expect(files(t, repo, "live-cluster")).NotTo(HaveKey("live-cluster/" + ns + "/secrets/sops-age-key.sops.yaml"))
}

// A recipient added to the GitTarget re-encrypts the existing files for both keys.
func TestAddingARecipientReencryptsForBothKeys(t *testing.T) {
	g := NewWithT(t)
	const ns = "rotation"
	repo, alice := encryptedQuickStart(t, ns)
	kubectlAs(t, alice, "", "create", "secret", "generic", "db", "--from-literal=password=hunter2", "-n", ns)
	eventuallyOneCommit(t, repo, "[CREATE] secrets "+ns+"/db")
	generated, _ := generatedKeys(t, ns)

	second, err := age.GenerateX25519Identity()
	g.Expect(err).NotTo(HaveOccurred())
	kubectl(t, "", "patch", "gittarget", "to-folder-live-cluster", "-n", ns, "--type", "merge", "-p",
		fmt.Sprintf(`{"spec":{"encryption":{"age":{"recipients":{"publicKeys":[%q]}}}}}`, second.Recipient().String()))
	onlySecond, err := secrets.NewKeys(nil, []*age.X25519Identity{second}, true)
	g.Expect(err).NotTo(HaveOccurred())
	const path = "live-cluster/" + ns + "/secrets/db.sops.yaml"
	g.Eventually(func() error {
		_, err := secrets.Decrypt([]byte(files(t, repo, "live-cluster")[path]), onlySecond)
		return err
	}).WithTimeout(60 * time.Second).Should(Succeed())
	plain, err := secrets.Decrypt([]byte(files(t, repo, "live-cluster")[path]), generated)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(plain)).To(Equal(sanitizedSecret(t, ns, "db")))
	g.Expect(files(t, repo, "live-cluster")["live-cluster/.sops.yaml"]).To(ContainSubstring(second.Recipient().String()))
}
