// Package attribution owns who made each change: it receives facts about writes from the API
// server, keeps them in an Index for a short while, and answers, for an object the watch observed,
// which user's request produced it, so that the commit is authored by that user.
//
// # Sources
//
// Two receivers record facts; both are plain http.Handlers, served by the operator on every
// replica:
//
//   - NewAdmissionHandler serves a validating admission webhook (config/webhook) that always
//     allows. It works on every cluster, managed ones included, and sees a write before the watch
//     does. But it sees attempts: a later webhook, a conflict or a precondition may still reject
//     the write, so an admission fact only counts when the observed object matches it.
//   - NewAuditHandler receives the API server's audit webhook batches (config/audit, self-managed
//     clusters only). Audit events describe completed requests, with the response object's UID
//     and resourceVersion, so they are exact; they arrive after the watch event, in batches
//     (--audit-webhook-batch-max-wait, 1s recommended).
//
// # Matching
//
// A Query describes the observed object: identity, operation, UID (required), resourceVersion
// and, for CREATE and UPDATE, ContentHash of its sanitized YAML (internal/manifest's Sanitize and
// Encode). Lookup tries audit facts first, then admission facts, and consumes the fact it matched.
// Facts under one key are matched first in, first out, so the same change made twice by two users
// is attributed in order.
//
//   - Audit, CREATE and UPDATE: the fact with the same UID and resourceVersion. A resourceVersion
//     names exactly one write, so the operation is not compared: a PUT or a server-side apply
//     that created the object (verb update or patch) still matches the CREATE the watch reports,
//     and a delete that only marked the object for deletion (finalizers, graceful deletion)
//     matches the UPDATE that shows the deletionTimestamp.
//   - Audit, DELETE: the delete fact with the same UID. The watch's delete event carries the
//     revision of the deletion, and so does a delete response that returns the object (pods,
//     services, namespaces and a few more); but most resources, custom resources included, answer
//     a delete with a Status that has the UID and no resourceVersion, and an informer's tombstone
//     carries the last resourceVersion it saw. The UID is what both sides always have.
//   - Admission, CREATE and UPDATE: same identity, operation, UID and content hash. The object a
//     validating webhook sees is the one the API server is about to store, minus its
//     resourceVersion; the UID of a new object is already assigned. An UPDATE that leaves the
//     sanitized content as it was records nothing: the watch will have nothing to attribute, and
//     the fact could only claim a later change back to that content.
//   - Admission, DELETE: same identity and UID (the old object's).
//
// UIDs are unique cluster-wide, so audit keys leave the identity out; a change made through an
// equivalent resource (events and events.k8s.io events) then still matches. Admission hashes
// compare the object in the version the writer used: a watch of another version of the same
// resource matches audit facts only.
//
// # Memory
//
// Unmatched facts expire after IndexOptions.TTL (checked whenever a fact is recorded or looked
// up), and the Index holds at most IndexOptions.MaxFacts facts, dropping the oldest first. A
// dropped or expired fact only costs the attribution of one change, never the change itself;
// Metrics counts both.
//
// # Trust
//
// Whoever can reach the receivers can record facts, and so choose a commit's author. Serve them
// only over TLS, reachable by the API server alone (a NetworkPolicy), or require the API server's
// client certificate. The receivers never keep or log object contents: an audit event is decoded
// into the handful of metadata fields matching needs, one event at a time, and an admitted object
// only lives until it is hashed.
package attribution
