// Package gitwriter owns writing to Git: one Writer per (repository URL, branch) turns a stream of
// changes (path operations plus author, committer and message) into one commit each, and pushes
// them by the GitProvider's policy.
//
// Commits are built on the object store, never a worktree: a change writes its blobs, re-encodes
// only the trees along the changed paths (the tip's tree is kept decoded in memory), and writes a
// commit object. New objects stay in memory until they are pushed or until they exceed a budget,
// when they are spilled to a pack on disk; so an outage costs disk, not memory.
//
// A push is a compare-and-swap of the branch from the tip we built on to our newest commit, sent
// with a pack of exactly the objects made since the last push. When the remote moved, the Writer
// fetches the new tip, replays its pending commits on it (they are path operations, so they
// replay; the cluster's version of a file wins), and pushes again. It never force-pushes.
package gitwriter
