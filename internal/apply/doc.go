// Package apply owns the Git → cluster direction of every GitTarget: it reads the manifests below
// the target's folder from the branch's Git writer (the same client the cluster → Git direction
// commits through; nothing is cloned twice), decrypts SOPS files in process with the target's
// age identities, keeps the objects whose first selecting rule says syncTo: kubernetes, and
// applies them with server-side apply (fluxcd/pkg/ssa, field manager gitops-reverser): CRDs and
// Namespaces first, every object dry-run first, so that an unchanged object gets no write.
//
// It also corrects drift (a watch on every applied resource re-applies an object changed in the
// cluster) and prunes: objects removed from Git are deleted, but only objects in the target's
// inventory that our field manager applied, that a rule still selects, and that do not say
// configbutler.ai/prune: disabled. An object no rule selects any more is released, never deleted.
//
// Bad input never stops the rest: a file that does not parse, cannot be decrypted, names an
// object outside the rule's namespace, or is refused by the API server is reported by name in the
// target's Applied condition, and every other object is applied. While any file cannot be read,
// nothing is pruned: an object whose manifest we cannot see is not one we know was removed.
package apply
