// Package escalation owns the validating webhook on our own kinds that keeps them from granting
// more than their author holds. The same webhook also refuses what their schema cannot check: a
// commit subject template that does not parse or render (spec.go).
//
// The operator runs with wide permissions: it reads every resource a rule names and applies what
// Git holds. Whoever may create or change a WatchRule, ClusterWatchRule, GitTarget or GitProvider
// would otherwise borrow those permissions: a WatchRule for secrets in a namespace where its
// author may not read Secrets would write them to her repository, encrypted to her own key. As
// Kubernetes does for RoleBindings (nobody grants what they do not hold), every CREATE and every
// UPDATE that changes a spec is checked with a SubjectAccessReview of the request's author for
// each permission the object makes the operator use on her behalf:
//
//   - a rule with syncTo: git needs get, list and watch of its resources, in the WatchRule's
//     namespace or, for a ClusterWatchRule, in every namespace;
//   - a rule with syncTo: kubernetes needs those and create, update, patch and delete;
//   - a GitTarget or GitProvider needs get of each Secret (and ConfigMap) it names, and create and
//     update of the encryption Secret when the operator generates keys into it;
//   - changing where data goes (a GitTarget's provider, branch, path or encryption; a
//     GitProvider's URL) needs every permission of every rule whose data then goes there, since
//     it redirects what those rules read, or where what they apply comes from.
//
// Wildcards are checked as wildcards (`*` resources need a role that grants `*`), and a
// ClusterWatchRule's namespaceSelector does not narrow its check: labels are not something
// RBAC authorizes. The webhook is installed with failurePolicy Fail for our four kinds only
// (config/webhook), so it costs the rest of the cluster nothing; a denial names the missing
// permissions and the rule that needs them.
package escalation
