// Package peers owns what the operator's replicas exchange. Every replica serves the webhooks, so
// an attribution fact lands on whichever replica the API server's call reached; only the leader
// commits. The leader finds the other replicas through the EndpointSlices of the webhook Service
// and reads, from each, a stream of the facts its receivers recorded (attribution's journal),
// into its own index: a fact received by any replica attributes the change on the leader, and a
// new leader takes what the surviving replicas still hold, so a failover loses only the facts of
// the replica that died.
//
// Replicas prove themselves to each other with the webhook certificate, which every replica
// holds and which is made for client authentication too: the client presents it, and the
// serving replica accepts a client certificate only when the CA of the certificate directory
// signed it. Whoever holds that key could already impersonate the webhooks.
package peers
