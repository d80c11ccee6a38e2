package controller

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"

	"github.com/gitops-reverser/gitops-reverser/internal/attribution"
	"github.com/gitops-reverser/gitops-reverser/internal/oneline"
)

// Keys of a kubeconfig Secret: Flux's defaults for the kubeconfig, and the token the cluster's
// audit webhook sends.
const (
	kubeConfigKey     = "value"
	kubeConfigKeyYAML = "value.yaml"
	auditTokenKey     = "audit-token"
)

// remoteConfig is a remote cluster as a GitTarget's kubeconfig describes it.
type remoteConfig struct {
	// id is the kubeconfig Secret's namespace/name: the cluster's name in attribution facts,
	// which its audit webhook posts under (attribution.ClusterAuditPath).
	id string
	// where is what the kubeconfig was read from, for messages: `Secret team-a/prod key value`.
	where string
	// name is the cluster in authors' addresses: the current context's cluster entry.
	name   string
	config *rest.Config
	// hash tells a changed kubeconfig (rotated credentials) from the one running.
	hash [sha256.Size]byte
}

// loadKubeConfig reads and checks the kubeconfig a GitTarget names. The reasons are
// KubeConfigNotFound and KubeConfigInvalid; messages never quote the Secret's content.
func loadKubeConfig(ctx context.Context, c client.Reader, target *configv1alpha1.GitTarget) (*remoteConfig, *stepError) {
	ref := target.Spec.KubeConfig.SecretRef
	secret := &corev1.Secret{}
	err := c.Get(ctx, types.NamespacedName{Namespace: target.Namespace, Name: ref.Name}, secret)
	if apierrors.IsNotFound(err) {
		return nil, failed(configv1alpha1.ReasonKubeConfigNotFound, "kubeconfig Secret %s not found in namespace %s", ref.Name, target.Namespace)
	}
	if err != nil {
		return nil, failed(configv1alpha1.ReasonProgressing, "reading kubeconfig Secret %s/%s: %w", target.Namespace, ref.Name, err)
	}
	key := ref.Key
	if key == "" {
		key = kubeConfigKey
		if _, ok := secret.Data[key]; !ok {
			key = kubeConfigKeyYAML
		}
	}
	data, ok := secret.Data[key]
	where := fmt.Sprintf("Secret %s/%s key %s", target.Namespace, ref.Name, key)
	if !ok || len(data) == 0 {
		if ref.Key == "" {
			return nil, failed(configv1alpha1.ReasonKubeConfigNotFound, "Secret %s/%s has no key %s or %s with a kubeconfig", target.Namespace, ref.Name, kubeConfigKey, kubeConfigKeyYAML)
		}
		return nil, failed(configv1alpha1.ReasonKubeConfigNotFound, "%s is missing or empty", where)
	}
	rc, err := parseKubeConfig(data)
	if err != nil {
		return nil, failed(configv1alpha1.ReasonKubeConfigInvalid, "the kubeconfig in %s: %w", where, err)
	}
	rc.id, rc.where = target.Namespace+"/"+ref.Name, where
	if rc.name == "" {
		rc.name = ref.Name
	}
	return rc, nil
}

// parseKubeConfig turns a kubeconfig into a client configuration, refusing what would let
// whoever writes the Secret act as the operator rather than as the kubeconfig's own credentials:
// exec and auth-provider plugins run programs in the operator's pod, file references read its
// files (its own service account token among them), and skipping TLS verification hands the
// credentials to whoever answers.
func parseKubeConfig(data []byte) (*remoteConfig, error) {
	raw, err := clientcmd.Load(data)
	if err != nil {
		return nil, fmt.Errorf("not a kubeconfig: %w", firstLine(err))
	}
	current := raw.CurrentContext
	kctx, ok := raw.Contexts[current]
	if current == "" || !ok {
		return nil, fmt.Errorf("no current-context (it is %q)", current)
	}
	cluster, ok := raw.Clusters[kctx.Cluster]
	if !ok {
		return nil, fmt.Errorf("context %s names cluster %q, which it does not define", current, kctx.Cluster)
	}
	user := raw.AuthInfos[kctx.AuthInfo]
	var refused []string
	if cluster.InsecureSkipTLSVerify {
		refused = append(refused, "insecure-skip-tls-verify")
	}
	if cluster.CertificateAuthority != "" {
		refused = append(refused, "certificate-authority (a file; use certificate-authority-data)")
	}
	if u, err := url.Parse(cluster.Server); err != nil || u.Scheme != "https" || u.Host == "" {
		refused = append(refused, fmt.Sprintf("server %q (it must be an https:// URL)", cluster.Server))
	}
	if user != nil {
		if user.Exec != nil {
			refused = append(refused, "exec plugins")
		}
		if user.AuthProvider != nil {
			refused = append(refused, "auth-provider plugins")
		}
		if user.ClientCertificate != "" || user.ClientKey != "" {
			refused = append(refused, "client-certificate and client-key files (use client-certificate-data and client-key-data)")
		}
		if user.TokenFile != "" {
			refused = append(refused, "tokenFile (use token)")
		}
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("refused: %s; only credentials written into the kubeconfig are used", strings.Join(refused, ", "))
	}
	cfg, err := clientcmd.NewDefaultClientConfig(*raw, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("%w", firstLine(err))
	}
	cfg.UserAgent = "gitops-reverser"
	name := kctx.Cluster
	if len(validation.IsDNS1123Subdomain(name)) > 0 {
		name = "" // the Secret's name then
	}
	return &remoteConfig{name: name, config: cfg, hash: sha256.Sum256(data)}, nil
}

// firstLine keeps an error to its first line: parsers quote what they could not read, and a
// kubeconfig's lines hold credentials.
func firstLine(err error) error {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return errors.New(oneline.Cut(oneline.Spaces(msg), 200, "…"))
}

// AuditTokens reads the bearer token a remote cluster's audit webhook must send: the audit-token
// key of its kubeconfig Secret. No Secret, or no key, is no token.
func AuditTokens(c client.Reader) attribution.ClusterTokens {
	return func(ctx context.Context, namespace, name string) (string, error) {
		secret := &corev1.Secret{}
		err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, secret)
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("reading Secret %s/%s: %w", namespace, name, err)
		}
		return strings.TrimSpace(string(secret.Data[auditTokenKey])), nil
	}
}
