package controller

import (
	"context"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
)

// Keys of the signing Secret.
const (
	signingKeyKey        = "signing.key"
	signingPassphraseKey = "passphrase"
)

// providerSettings is everything a Writer needs from a GitProvider: credentials, push policy,
// committer and signer, read from its Secrets.
func providerSettings(ctx context.Context, c client.Reader, p *configv1alpha1.GitProvider) (gitwriter.Settings, *stepError) {
	creds, serr := loadCredentials(ctx, c, p)
	if serr != nil {
		return gitwriter.Settings{}, serr
	}
	s := gitwriter.Settings{
		Credentials:     creds,
		Push:            gitwriter.PushPolicy{Interval: 5 * time.Second, MaxCommits: 20}, // the CRD's defaults
		AllowedBranches: p.Spec.AllowedBranches,
	}
	if p.Spec.Push.Interval != nil {
		s.Push.Interval = p.Spec.Push.Interval.Duration
	}
	if p.Spec.Push.MaxCommits != nil {
		s.Push.MaxCommits = int(*p.Spec.Push.MaxCommits)
	}
	if p.Spec.Committer != nil {
		s.Committer = gitwriter.Signature{Name: p.Spec.Committer.Name, Email: p.Spec.Committer.Email}
	}
	if sg := p.Spec.Signing; sg != nil {
		data, serr := secretData(ctx, c, p.Namespace, sg.SecretRef.Name)
		if serr != nil {
			return gitwriter.Settings{}, serr
		}
		if len(data[signingKeyKey]) == 0 {
			return gitwriter.Settings{}, failed(configv1alpha1.ReasonInvalidCredentials, "signing Secret %s has no key %s", sg.SecretRef.Name, signingKeyKey)
		}
		signer, err := gitwriter.NewSigner(data[signingKeyKey], data[signingPassphraseKey], sg.Format)
		if err != nil {
			return gitwriter.Settings{}, failed(configv1alpha1.ReasonInvalidCredentials, "signing Secret %s: %w", sg.SecretRef.Name, err)
		}
		s.Signer = signer
	}
	return s, nil
}
