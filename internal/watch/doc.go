// Package watch owns following resources: one list+watch per (resource, namespace scope), shared
// by every subscriber that needs it, started on the first subscription and stopped with the last.
// Subscribers get every object of the first list as an Added event marked Initial when they join,
// then Added, Updated and Deleted events as they happen, and a Relisted event when the watch
// expired (410) and was re-listed, after which a subscriber reconciles rather than trusting that
// it saw every change.
package watch
