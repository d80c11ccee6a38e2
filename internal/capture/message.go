package capture

import (
	"fmt"
	"net/mail"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-reverser/gitops-reverser/internal/attribution"
	"github.com/gitops-reverser/gitops-reverser/internal/commitmsg"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/oneline"
)

// unattributed is the author of changes nobody could be found for. It is never a guess.
const unattributed = "unattributed"

// commitInfo is what a change's commit says about it.
type commitInfo struct {
	Operation       string
	Resource        schema.GroupVersionResource
	Namespace, Name string
	ResourceVersion string
	When            time.Time
	// User made the change; nil when unknown.
	User *attribution.User
	// Earlier are the users of earlier changes that were coalesced into this one.
	Earlier []attribution.User
	// Coalesced is how many changes this commit stands for, when more than one.
	Coalesced int
	// HistoryLost: the commit stands for an unknown number of changes, whose history the API
	// server no longer held when a watch was listed again.
	HistoryLost bool
	// NoLongerSelected is set when the object left the rules' selection and its file goes.
	NoLongerSelected bool
	// Cluster names the cluster in made-up addresses.
	Cluster string
	// Fields are the fields a field-level change edited in the file, as paths.
	Fields []string
	// Target names the GitTarget, ClusterID the remote cluster it captures; Watermark and
	// Newest are its cursor (cursor.go).
	Target, ClusterID string
	Watermark, Newest uint64
	// Subject is the GitTarget's subject template; nil writes the default subject, as does a
	// template that fails for this change, which SubjectFailed hears of.
	Subject       *commitmsg.Subject
	SubjectFailed func(error)
}

// message is a commit message: a subject a person reads in `git log --oneline`, and trailers that
// `git log --format='%(trailers)'` reads.
func message(c commitInfo) string {
	var b strings.Builder
	resource := c.Resource.Resource
	if c.Resource.Group != "" {
		resource += "." + c.Resource.Group
	}
	object := oneLine(c.Name)
	if c.Namespace != "" {
		object = oneLine(c.Namespace) + "/" + object
	}
	b.WriteString(subject(c, resource, object))
	if c.NoLongerSelected {
		b.WriteString(" (no longer selected)")
	}
	b.WriteString("\n\n")
	if c.User != nil {
		fmt.Fprintf(&b, "Kubernetes-User: %s\n", oneLine(c.User.Name))
		if len(c.User.Groups) > 0 {
			fmt.Fprintf(&b, "Kubernetes-Groups: %s\n", oneLine(strings.Join(c.User.Groups, ", ")))
		}
		if c.User.ImpersonatedBy != "" {
			fmt.Fprintf(&b, "Kubernetes-Impersonated-By: %s\n", oneLine(c.User.ImpersonatedBy))
		}
	} else {
		fmt.Fprintf(&b, "Kubernetes-User: %s\n", unattributed)
	}
	fmt.Fprintf(&b, "Kubernetes-Operation: %s\n", c.Operation)
	fmt.Fprintf(&b, "Kubernetes-Resource: %s, Resource=%s\n", c.Resource.GroupVersion().String(), c.Resource.Resource)
	fmt.Fprintf(&b, "%s: %s\n", trailerObject, object)
	if c.ResourceVersion != "" {
		fmt.Fprintf(&b, "Kubernetes-Resource-Version: %s\n", oneLine(c.ResourceVersion))
	}
	fmt.Fprintf(&b, "Kubernetes-Timestamp: %s\n", c.When.UTC().Format(time.RFC3339))
	switch {
	case c.HistoryLost:
		b.WriteString("Kubernetes-Coalesced-Changes: unknown\n")
	case c.Coalesced > 1:
		fmt.Fprintf(&b, "Kubernetes-Coalesced-Changes: %d\n", c.Coalesced)
	}
	// One trailer per field: a pointer may hold any character but a line break.
	for _, f := range c.Fields {
		fmt.Fprintf(&b, "Kubernetes-Fields: %s\n", oneLine(f))
	}
	b.WriteString(cursorTrailers(c.Target, c.ClusterID, c.Watermark, c.Newest))
	seen := map[string]bool{}
	if c.User != nil {
		seen[c.User.Name] = true
	}
	for _, u := range c.Earlier {
		if !seen[u.Name] {
			seen[u.Name] = true
			fmt.Fprintf(&b, "Co-authored-by: %s <%s>\n", signatureName(u.Name), email(u.Name, c.Cluster))
		}
	}
	return b.String()
}

// reconcileMessage is the message of a reconcile commit.
func reconcileMessage(target, cluster, reason string, written, removed int, watermark, newest uint64) string {
	return fmt.Sprintf("[RECONCILE] %s: %d written, %d removed\n\nKubernetes-Operation: RECONCILE\nReconcile-Reason: %s\n%s",
		oneLine(target), written, removed, oneLine(reason), cursorTrailers(target, cluster, watermark, newest))
}

// author is the commit author for a Kubernetes user: the name as the API server knows it, and
// the user's address when the name is one (OIDC email claims), else a made-up address under the
// cluster's name in the .invalid top-level domain, which can never reach anyone.
func author(u *attribution.User, cluster string, when time.Time) gitwriter.Signature {
	name := unattributed
	if u != nil && u.Name != "" {
		name = u.Name
	}
	return gitwriter.Signature{Name: signatureName(name), Email: email(name, cluster), When: when}
}

func email(name, cluster string) string {
	if a, err := mail.ParseAddress(name); err == nil && a.Address == name && a.Name == "" {
		return name
	}
	return localPart(name) + "@" + localPart(cluster) + ".kubernetes.invalid"
}

// localPart keeps what is safe in an address's local part and a DNS label, and turns the rest
// (the colons of system:serviceaccount:ns:name, spaces, anything hostile) into dashes.
func localPart(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_', r == '+':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), ".-")
	if out == "" {
		return "unknown"
	}
	return out
}

// signatureName makes a user name safe as a Git author name, which ends at '<' and a newline.
func signatureName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '<' || r == '>' || r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if s == "" {
		return "unknown"
	}
	return s
}

// subject is the commit's subject: the template's when there is one and it renders, else
// "[OPERATION] resource namespace/name".
func subject(c commitInfo, resource, object string) string {
	if c.Subject != nil {
		user := unattributed
		if c.User != nil {
			user = c.User.Name
		}
		out, err := c.Subject.Render(commitmsg.Fields{
			Operation: c.Operation, Resource: resource, Group: c.Resource.Group, Version: c.Resource.Version,
			Namespace: c.Namespace, Name: c.Name, Object: object, User: user, Target: c.Target, Cluster: c.Cluster,
		})
		if err == nil {
			return out
		}
		if c.SubjectFailed != nil {
			c.SubjectFailed(err)
		}
	}
	return fmt.Sprintf("[%s] %s %s", c.Operation, resource, object)
}

// oneLine keeps a value on its trailer's line.
func oneLine(s string) string { return oneline.Spaces(s) }
