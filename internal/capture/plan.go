package capture

import (
	"github.com/gitops-reverser/gitops-reverser/internal/commitmsg"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/route"
	"github.com/gitops-reverser/gitops-reverser/internal/secrets"
)

// Plan is what one GitTarget needs: where to write and what to watch.
type Plan struct {
	// Target is the GitTarget.
	Target types.NamespacedName
	// Writer is the repository and branch; Settings come from its GitProvider.
	Writer   gitwriter.Key
	Settings gitwriter.Settings
	// Folder is the target folder, clean and relative to the repository root.
	Folder string
	// Sources are the watches whose objects belong in the folder.
	Sources []Source
	// Encryption encrypts sensitive resources; nil holds their changes until it is set.
	Encryption *secrets.Keys
	// Subject is the subject template of change commits; nil writes the default subject.
	Subject *commitmsg.Subject
	// KeySecret is the Secret that holds the target's age private keys. It is never written:
	// encrypted to the recipients, it would hand the operator's key to every one of them.
	KeySecret *types.NamespacedName
}

// excluded reports whether the plan keeps obj of resource gr out of the folder whatever the rules
// say.
func (p Plan) excluded(gr schema.GroupResource, namespace, name string) bool {
	return p.KeySecret != nil && gr == (schema.GroupResource{Resource: "secrets"}) &&
		p.KeySecret.Namespace == namespace && p.KeySecret.Name == name
}

// Source is one watched resource in one namespace scope, with the rules that select its objects.
// An object belongs to the target when any of the rules selects it.
type Source struct {
	Resource schema.GroupVersionResource
	// Namespace limits the watch to one namespace; empty watches all namespaces (or a
	// cluster-scoped resource).
	Namespace string
	Rules     []*route.Matcher
}

// sameWhere reports whether two plans write to the same place, so that a running target can
// take the new plan without a restart.
func (p Plan) sameWhere(o Plan) bool {
	return p.Writer == o.Writer && p.Folder == o.Folder
}
