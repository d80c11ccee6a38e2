package certs

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// The files of the certificate directory, as the rotator names the Secret's keys.
const (
	CertFile = "tls.crt"
	KeyFile  = "tls.key"
	CAFile   = "ca.crt"
)

// Options say which Secret holds the certificate and whom it is for.
type Options struct {
	// Secret is the Secret the install ships empty; the rotator fills and renews it.
	Secret types.NamespacedName
	// Dir is where the webhook server reads tls.crt and tls.key; ca.crt is written beside them.
	Dir string
	// Service is the name of the Service the API server reaches the webhooks through, in the
	// Secret's namespace: the certificate is for <service>.<namespace>.svc.
	Service string
	// Webhooks are the ValidatingWebhookConfigurations whose caBundle is injected.
	Webhooks []string
	Log      logr.Logger
}

// Manage adds the rotator and the file writer to mgr and returns a channel closed once the
// certificate is in Dir and its CA in every webhook configuration.
func Manage(mgr manager.Manager, opts Options) (<-chan struct{}, error) {
	if opts.Secret.Namespace == "" || opts.Secret.Name == "" || opts.Service == "" {
		return nil, errors.New("managing the webhook certificate needs a Secret, its namespace and the webhook Service's name")
	}
	webhooks := make([]rotator.WebhookInfo, 0, len(opts.Webhooks))
	for _, name := range opts.Webhooks {
		webhooks = append(webhooks, rotator.WebhookInfo{Name: name, Type: rotator.Validating})
	}
	rotated := make(chan struct{})
	dns := opts.Service + "." + opts.Secret.Namespace + ".svc"
	usages := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} // replicas call each other with it
	if err := rotator.AddRotator(mgr, &rotator.CertRotator{
		SecretKey:      opts.Secret,
		CertDir:        opts.Dir,
		CAName:         "gitops-reverser-ca",
		CAOrganization: "gitops-reverser",
		DNSName:        dns,
		ExtraDNSNames:  []string{dns + ".cluster.local"},
		IsReady:        rotated,
		Webhooks:       webhooks,
		FieldOwner:     "gitops-reverser",
		ExtKeyUsages:   &usages,
		// Every replica serves the webhooks, so every replica must have the certificate: with
		// leader election the standbys would never become ready (cert-controller issue #53).
		RequireLeaderElection: false,
	}); err != nil {
		return nil, fmt.Errorf("adding the webhook certificate rotator: %w", err)
	}
	if err := mgr.Add(&fileWriter{reader: mgr.GetAPIReader(), opts: opts}); err != nil {
		return nil, fmt.Errorf("adding the webhook certificate writer: %w", err)
	}
	return rotated, nil
}

// fileWriter keeps Dir equal to the Secret's certificate.
type fileWriter struct {
	reader client.Reader
	opts   Options
}

var _ manager.LeaderElectionRunnable = (*fileWriter)(nil)

// NeedLeaderElection: every replica serves the webhooks.
func (w *fileWriter) NeedLeaderElection() bool { return false }

// filePoll is how often the Secret is read for a renewed certificate: fast until the first one
// is written, then at the pace renewals need (the rotator renews 90 days ahead).
const (
	filePollFirst = 250 * time.Millisecond
	filePoll      = time.Minute
)

func (w *fileWriter) Start(ctx context.Context) error {
	if err := os.MkdirAll(w.opts.Dir, 0o700); err != nil {
		return fmt.Errorf("creating the webhook certificate directory %s: %w", w.opts.Dir, err)
	}
	written := false
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		interval := filePollFirst
		if written {
			interval = filePoll
		}
		timer := time.NewTimer(interval)
		defer timer.Stop()
		changed, err := w.sync(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			w.opts.Log.Error(err, "Cannot write the webhook certificate", "secret", w.opts.Secret.String(), "dir", w.opts.Dir)
		case changed:
			written = true
			w.opts.Log.Info("Wrote the webhook certificate", "secret", w.opts.Secret.String(), "dir", w.opts.Dir)
		}
		select {
		case <-ctx.Done():
		case <-timer.C:
		}
	}, 0)
	return nil
}

// sync writes the Secret's files where they differ from Dir's, the key first: the server's
// certificate watcher reloads on the certificate, and must find the key that goes with it.
func (w *fileWriter) sync(ctx context.Context) (bool, error) {
	secret := &corev1.Secret{}
	if err := w.reader.Get(ctx, w.opts.Secret, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return false, fmt.Errorf("the Secret %s that holds the webhook certificate is missing; the install ships it empty", w.opts.Secret)
		}
		return false, err
	}
	if len(secret.Data[CertFile]) == 0 || len(secret.Data[KeyFile]) == 0 {
		return false, nil // the rotator has not filled it yet
	}
	changed := false
	for _, name := range []string{KeyFile, CAFile, CertFile} {
		path := filepath.Join(w.opts.Dir, name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, secret.Data[name]) {
			continue
		}
		if err := writeAtomically(path, secret.Data[name]); err != nil {
			return changed, err
		}
		changed = true
	}
	return changed, nil
}

func writeAtomically(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// ServeWhenReady adds srv to mgr, started on every replica once ready is closed (nil: at once).
// Until then the readiness check Started reports it not started.
func ServeWhenReady(mgr manager.Manager, srv webhook.Server, ready <-chan struct{}) error {
	if ready == nil {
		return mgr.Add(srv)
	}
	return mgr.Add(&gate{srv: srv, ready: ready})
}

type gate struct {
	srv   webhook.Server
	ready <-chan struct{}
}

var _ manager.LeaderElectionRunnable = (*gate)(nil)

func (g *gate) NeedLeaderElection() bool { return false }

func (g *gate) Start(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case <-g.ready:
	}
	return g.srv.Start(ctx)
}
