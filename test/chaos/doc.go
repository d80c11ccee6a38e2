// Package chaos runs the operator's binary as three replicas against a real API server and a
// real Git server under steady writes, and breaks things: kill -9 of the leader, the Git server
// down, every replica down at once. After each, and at the end, Git must equal the cluster, no
// write may be lost or committed twice on the remote, the branch only ever moves forward, and no
// API write may have failed. `make test` runs it at a size CI affords; `make chaos` at full size
// prints one line of figures (docs/benchmarks.md).
package chaos
