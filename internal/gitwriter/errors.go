package gitwriter

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"golang.org/x/crypto/ssh/knownhosts"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

// Reasons for failures that only the writer can tell, next to the API's condition reasons.
const (
	// ReasonRepositoryNotFound: the remote answered but has no such repository.
	ReasonRepositoryNotFound = "RepositoryNotFound"
	// ReasonPushRejected: the remote refused an update that was not a conflict (a hook, a
	// protected branch, a permission on the branch).
	ReasonPushRejected = "PushRejected"
)

// ErrStale says the remote branch is not where the push expected it: someone else pushed.
var ErrStale = errors.New("the remote branch moved")

// ErrRejected says the remote refused the update for a reason other than a conflict.
var ErrRejected = errors.New("the remote rejected the push")

// Classify maps an error of a Git operation to the reason a status condition reports.
func Classify(err error) string {
	var keyErr *knownhosts.KeyError
	var unknownAuthority x509.UnknownAuthorityError
	var certInvalid x509.CertificateInvalidError
	var hostnameErr x509.HostnameError
	var verifyErr *tls.CertificateVerificationError
	var netErr net.Error
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	switch {
	case err == nil:
		return configv1alpha1.ReasonConnected
	case errors.Is(err, ErrNoKnownHosts), errors.As(err, &keyErr),
		strings.Contains(msg, "knownhosts: key mismatch"), strings.Contains(msg, "knownhosts: key is unknown"):
		return configv1alpha1.ReasonHostKeyMismatch
	case errors.Is(err, ErrInvalidCredentials):
		return configv1alpha1.ReasonInvalidCredentials
	case errors.Is(err, ErrBranchNotAllowed):
		return configv1alpha1.ReasonBranchNotAllowed
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed),
		strings.Contains(msg, "unable to authenticate"), strings.Contains(msg, "Permission denied"):
		return configv1alpha1.ReasonAuthenticationFailed
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return ReasonRepositoryNotFound
	case errors.Is(err, ErrRejected):
		return ReasonPushRejected
	case errors.As(err, &unknownAuthority), errors.As(err, &certInvalid), errors.As(err, &hostnameErr),
		errors.As(err, &verifyErr), strings.Contains(msg, "x509: "), strings.Contains(msg, "tls: failed to verify certificate"):
		return configv1alpha1.ReasonTLSVerificationFailed
	case errors.As(err, &netErr), errors.Is(err, context.DeadlineExceeded),
		strings.Contains(msg, "connection refused"), strings.Contains(msg, "no such host"),
		strings.Contains(msg, "EOF"), strings.Contains(msg, "connection reset"):
		return configv1alpha1.ReasonUnreachable
	}
	return configv1alpha1.ReasonUnreachable
}

func isStale(err error) bool { return errors.Is(err, ErrStale) }
