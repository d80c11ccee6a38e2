// Package capture owns the cluster → Git direction for every GitTarget: it subscribes to the
// watches a target's rules resolved to, routes each observed change through the rules, turns it
// into a manifest at its path, waits (briefly, and only for that object) to learn who made it,
// and hands it to the target's Git writer as one commit. It also reconciles: at start, after a
// watch was re-listed and on a resync period it makes the target folder equal to the selected
// objects with one commit by the operator.
//
// Changes of one object are committed in the order the API server produced them; changes of
// different objects never wait for each other. Nothing is dropped: when Git is slower than the
// cluster, an object's pending changes coalesce to its latest state and keep their authors.
package capture
