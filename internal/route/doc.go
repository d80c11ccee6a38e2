// Package route decides which GitTargets an observed change goes to: each rule of a WatchRule or
// ClusterWatchRule compiles into a Matcher, a pure predicate over the change's operation, the
// object's labels and namespace, and the labels of that namespace.
package route
