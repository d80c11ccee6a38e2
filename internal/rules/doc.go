// Package rules resolves WatchRule and ClusterWatchRule rules against what the API server serves:
// which resources (group, version, resource, kind, scope) each rule selects, and which of the
// names it asks for are not served. Everything here is a pure function of the rule and a catalog
// built from discovery, so the controllers only do I/O.
package rules
