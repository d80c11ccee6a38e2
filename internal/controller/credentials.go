package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
)

const defaultKnownHostsKey = "known_hosts"

// stepError is a failed step with the condition reason it reports, and, when the error's own
// text is not fit for a condition (a server's error page), the message it reports instead.
type stepError struct {
	reason  string
	err     error
	message string
}

func (e *stepError) Error() string {
	if e.message != "" {
		return e.message
	}
	return e.err.Error()
}
func (e *stepError) Unwrap() error { return e.err }

func failed(reason string, format string, args ...any) *stepError {
	return &stepError{reason: reason, err: fmt.Errorf(format, args...)}
}

// loadCredentials reads the provider's Secret and known_hosts source. Errors never quote a
// Secret's content.
func loadCredentials(ctx context.Context, c client.Reader, p *configv1alpha1.GitProvider) (gitwriter.Credentials, *stepError) {
	var creds gitwriter.Credentials
	if p.Spec.SecretRef != nil {
		data, err := secretData(ctx, c, p.Namespace, p.Spec.SecretRef.Name)
		if err != nil {
			return creds, err
		}
		creds = gitwriter.CredentialsFromSecret(data)
	}
	if kh := p.Spec.KnownHosts; kh != nil {
		switch {
		case kh.SecretRef != nil:
			data, err := secretData(ctx, c, p.Namespace, kh.SecretRef.Name)
			if err != nil {
				return creds, err
			}
			key := keyOrDefault(kh.SecretRef.Key)
			if len(data[key]) == 0 {
				return creds, failed(configv1alpha1.ReasonSecretNotFound, "Secret %s has no key %s", kh.SecretRef.Name, key)
			}
			creds.KnownHosts = data[key]
		case kh.ConfigMapRef != nil:
			cm := &corev1.ConfigMap{}
			err := c.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: kh.ConfigMapRef.Name}, cm)
			if apierrors.IsNotFound(err) {
				return creds, failed(configv1alpha1.ReasonSecretNotFound, "ConfigMap %s not found", kh.ConfigMapRef.Name)
			}
			if err != nil {
				return creds, failed(configv1alpha1.ReasonProgressing, "reading ConfigMap %s: %w", kh.ConfigMapRef.Name, err)
			}
			key := keyOrDefault(kh.ConfigMapRef.Key)
			if cm.Data[key] == "" {
				return creds, failed(configv1alpha1.ReasonSecretNotFound, "ConfigMap %s has no key %s", kh.ConfigMapRef.Name, key)
			}
			creds.KnownHosts = []byte(cm.Data[key])
		}
	}
	return creds, nil
}

func keyOrDefault(key string) string {
	if key == "" {
		return defaultKnownHostsKey
	}
	return key
}

func secretData(ctx context.Context, c client.Reader, namespace, name string) (map[string][]byte, *stepError) {
	secret := &corev1.Secret{}
	err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, secret)
	if apierrors.IsNotFound(err) {
		return nil, failed(configv1alpha1.ReasonSecretNotFound, "Secret %s not found in namespace %s", name, namespace)
	}
	if err != nil {
		return nil, failed(configv1alpha1.ReasonProgressing, "reading Secret %s: %w", name, err)
	}
	return secret.Data, nil
}
