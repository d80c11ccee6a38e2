package escalation

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/rules"
)

// Path is where config/webhook has the API server send reviews of our kinds.
const Path = "/escalation/validate"

// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// Authorizer answers whether a user holds a permission.
type Authorizer interface {
	Allowed(ctx context.Context, user authenticationv1.UserInfo, p Permission) (bool, error)
}

// NewSubjectAccessReviewer asks the API server, with a SubjectAccessReview per question.
func NewSubjectAccessReviewer(c client.Client) Authorizer { return sarAuthorizer{c} }

type sarAuthorizer struct{ c client.Client }

func (a sarAuthorizer) Allowed(ctx context.Context, user authenticationv1.UserInfo, p Permission) (bool, error) {
	extra := make(map[string]authorizationv1.ExtraValue, len(user.Extra))
	for k, v := range user.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.Username, UID: user.UID, Groups: user.Groups, Extra: extra,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: p.Verb, Group: p.Group, Resource: p.Resource, Namespace: p.Namespace, Name: p.Name,
		},
	}}
	if err := a.c.Create(ctx, sar); err != nil {
		return false, fmt.Errorf("asking whether %s may %s: %w", user.Username, p, err)
	}
	return sar.Status.Allowed, nil
}

// NewHandler returns the admission handler. reader lists the rules and targets an object's
// change redirects; it should read the API server, not a cache that may not have started.
// discovery finds the groups that serve a resource a rule names without its group.
func NewHandler(scheme *runtime.Scheme, reader client.Reader, disc discovery.DiscoveryInterface, authz Authorizer, log logr.Logger) admission.Handler {
	return &guard{decoder: admission.NewDecoder(scheme), reader: reader, disc: disc, authz: authz, log: log}
}

type guard struct {
	decoder admission.Decoder
	reader  client.Reader
	disc    discovery.DiscoveryInterface
	authz   Authorizer
	log     logr.Logger
}

// groupsOf asks discovery at most once per request, and only when a rule names no group: what a
// rule selects is what the API server serves now, not what a cache saw.
func (g *guard) groupsOf() GroupsOf {
	var once sync.Once
	var catalog rules.Catalog
	return func(resource string) []string {
		once.Do(func() {
			groups, lists, err := g.disc.ServerGroupsAndResources()
			if err != nil && len(lists) == 0 {
				g.log.Error(err, "Discovery failed; rules without apiGroups are checked for every group")
				return
			}
			catalog = rules.NewCatalog(groups, lists)
		})
		var out []string
		for _, r := range catalog {
			if r.Resource == resource && !slices.Contains(out, r.Group) {
				out = append(out, r.Group)
			}
		}
		return out
	}
}

// maxConcurrentReviews bounds the SubjectAccessReviews one request sends at once.
const maxConcurrentReviews = 8

func (g *guard) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	if msg := g.invalidSpec(req); msg != "" {
		return admission.Denied(msg)
	}
	needs, err := g.needs(ctx, req, g.groupsOf())
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	if len(needs) == 0 {
		return admission.Allowed("")
	}
	missing, err := g.missing(ctx, req.UserInfo, needs)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	if len(missing) == 0 {
		return admission.Allowed("")
	}
	msg := denial(req, missing)
	g.log.Info("Refused a change that grants more than its author holds", "user", req.UserInfo.Username,
		"kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name, "missing", len(missing))
	return admission.Denied(msg)
}

// needs is every permission the request's object makes the operator use for its author.
func (g *guard) needs(ctx context.Context, req admission.Request, groupsOf GroupsOf) ([]Permission, error) {
	create := req.Operation == admissionv1.Create
	switch req.Kind.Kind {
	case "WatchRule":
		var n, o configv1alpha1.WatchRule
		if err := g.decode(req, &n, &o); err != nil {
			return nil, err
		}
		if !create && equality.Semantic.DeepEqual(o.Spec, n.Spec) {
			return nil, nil
		}
		return dedupe(WatchRuleGrants(&n, groupsOf)), nil
	case "ClusterWatchRule":
		var n, o configv1alpha1.ClusterWatchRule
		if err := g.decode(req, &n, &o); err != nil {
			return nil, err
		}
		if !create && equality.Semantic.DeepEqual(o.Spec, n.Spec) {
			return nil, nil
		}
		return dedupe(ClusterWatchRuleGrants(&n, groupsOf)), nil
	case "GitTarget":
		var n, o configv1alpha1.GitTarget
		if err := g.decode(req, &n, &o); err != nil {
			return nil, err
		}
		if !create && equality.Semantic.DeepEqual(o.Spec, n.Spec) {
			return nil, nil
		}
		needs := GitTargetRefs(&n)
		if create || GitTargetRedirects(&o, &n) {
			rules, err := g.rulesOf(ctx, n.Namespace, n.Name, groupsOf)
			if err != nil {
				return nil, err
			}
			needs = append(needs, rules...)
		}
		return dedupe(needs), nil
	case "GitProvider":
		var n, o configv1alpha1.GitProvider
		if err := g.decode(req, &n, &o); err != nil {
			return nil, err
		}
		if !create && equality.Semantic.DeepEqual(o.Spec, n.Spec) {
			return nil, nil
		}
		needs := GitProviderRefs(&n)
		if create || GitProviderRedirects(&o, &n) {
			var targets configv1alpha1.GitTargetList
			if err := g.reader.List(ctx, &targets, client.InNamespace(n.Namespace)); err != nil {
				return nil, fmt.Errorf("listing the GitTargets of namespace %s: %w", n.Namespace, err)
			}
			for _, t := range targets.Items {
				if t.Spec.ProviderRef.Name != n.Name {
					continue
				}
				rules, err := g.rulesOf(ctx, t.Namespace, t.Name, groupsOf)
				if err != nil {
					return nil, err
				}
				needs = append(needs, rules...)
			}
		}
		return dedupe(needs), nil
	}
	return nil, nil
}

func (g *guard) decode(req admission.Request, updated, old runtime.Object) error {
	if err := g.decoder.DecodeRaw(req.Object, updated); err != nil {
		return fmt.Errorf("decoding %s %s/%s: %w", req.Kind.Kind, req.Namespace, req.Name, err)
	}
	if req.Operation == admissionv1.Update {
		if err := g.decoder.DecodeRaw(req.OldObject, old); err != nil {
			return fmt.Errorf("decoding the old %s %s/%s: %w", req.Kind.Kind, req.Namespace, req.Name, err)
		}
	}
	return nil
}

// rulesOf is the permissions of every rule that sends data to, or applies from, a GitTarget.
func (g *guard) rulesOf(ctx context.Context, namespace, target string, groupsOf GroupsOf) ([]Permission, error) {
	var out []Permission
	var rules configv1alpha1.WatchRuleList
	if err := g.reader.List(ctx, &rules, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("listing the WatchRules of namespace %s: %w", namespace, err)
	}
	for i := range rules.Items {
		if rules.Items[i].Spec.TargetRef.Name == target {
			out = append(out, WatchRuleGrants(&rules.Items[i], groupsOf)...)
		}
	}
	var cluster configv1alpha1.ClusterWatchRuleList
	if err := g.reader.List(ctx, &cluster); err != nil {
		return nil, fmt.Errorf("listing the ClusterWatchRules: %w", err)
	}
	for i := range cluster.Items {
		ref := cluster.Items[i].Spec.TargetRef
		if ref.Namespace == namespace && ref.Name == target {
			out = append(out, ClusterWatchRuleGrants(&cluster.Items[i], groupsOf)...)
		}
	}
	return out, nil
}

// missing is the permissions the user lacks, in the order asked.
func (g *guard) missing(ctx context.Context, user authenticationv1.UserInfo, needs []Permission) ([]Permission, error) {
	allowed := make([]bool, len(needs))
	errs := make([]error, len(needs))
	sem := make(chan struct{}, maxConcurrentReviews)
	var wg sync.WaitGroup
	for i, p := range needs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			allowed[i], errs[i] = g.authz.Allowed(ctx, user, p)
		}()
	}
	wg.Wait()
	var out []Permission
	for i, p := range needs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if !allowed[i] {
			out = append(out, p)
		}
	}
	return out, nil
}

// maxListed bounds how many missing permissions a denial lists.
const maxListed = 5

func denial(req admission.Request, missing []Permission) string {
	var b strings.Builder
	name := req.Name
	if req.Namespace != "" {
		name = req.Namespace + "/" + name
	}
	fmt.Fprintf(&b, "%s %s would let gitops-reverser do for %q what they may not do themselves: ", req.Kind.Kind, name, req.UserInfo.Username)
	for i, p := range missing {
		if i == maxListed {
			fmt.Fprintf(&b, "; and %d more", len(missing)-maxListed)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s (%s)", p, p.Because)
	}
	return b.String()
}
