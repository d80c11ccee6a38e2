// Package manifest turns a live Kubernetes object into what goes into Git: it sanitizes the object
// by removing what the cluster added (status, server-managed metadata, allocated fields), encodes
// it as YAML the way kubectl prints it, and computes its path in the target folder.
//
// Everything here is a pure function of its input: the same object always gives the same bytes
// and the same path, and no name or namespace can produce a path outside the folder.
package manifest
