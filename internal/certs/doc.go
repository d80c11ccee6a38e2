// Package certs owns the webhook server's serving certificate when the operator makes it itself:
// it creates and rotates the CA and the certificate in a Secret the install ships empty (through
// open-policy-agent/cert-controller's rotator, on every replica), writes the Secret's files to
// the directory the webhook server reads, and injects the CA into our webhook configurations.
// The webhook server is started only once the certificate is in place, so a replica is never
// ready while it cannot serve.
//
// Writing the files ourselves, instead of mounting the Secret, means the first certificate is
// served seconds after the install rather than when the kubelet next syncs the volume (up to a
// minute and more), and that the operator also works where no kubelet runs it.
package certs
