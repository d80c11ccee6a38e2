package controller

import (
	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/commitmsg"
)

// commitSubjectOf is the subject template of target's change commits: its own, else its
// provider's, else none (the default subject). An invalid one stops the target: admission refuses
// it where the validating webhook runs, and without the webhook a person must still hear of it.
func commitSubjectOf(target *configv1alpha1.GitTarget, provider *configv1alpha1.GitProvider) (*commitmsg.Subject, *stepError) {
	text, owner := target.Spec.CommitSubject, "spec.commitSubject"
	if text == "" {
		text, owner = provider.Spec.CommitSubject, "spec.commitSubject of GitProvider "+provider.Name
	}
	if text == "" {
		return nil, nil
	}
	subject, err := commitmsg.Parse(text)
	if err != nil {
		return nil, failed(configv1alpha1.ReasonInvalidCommitSubject, "%s: %w", owner, err)
	}
	return subject, nil
}
