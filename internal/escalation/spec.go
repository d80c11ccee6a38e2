package escalation

import (
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/commitmsg"
)

// invalidSpec says what in a GitTarget or GitProvider the CRD's schema cannot check, and its
// controller would refuse: a commit subject template that does not parse or render. The same
// webhook serves it, since it already sees every spec change of our kinds; empty is valid.
func (g *guard) invalidSpec(req admission.Request) string {
	var text string
	switch req.Kind.Kind {
	case "GitTarget":
		var t configv1alpha1.GitTarget
		if err := g.decoder.DecodeRaw(req.Object, &t); err != nil {
			return ""
		}
		text = t.Spec.CommitSubject
	case "GitProvider":
		var p configv1alpha1.GitProvider
		if err := g.decoder.DecodeRaw(req.Object, &p); err != nil {
			return ""
		}
		text = p.Spec.CommitSubject
	}
	if text == "" {
		return ""
	}
	if _, err := commitmsg.Parse(text); err != nil {
		return "spec.commitSubject: " + err.Error()
	}
	return ""
}
