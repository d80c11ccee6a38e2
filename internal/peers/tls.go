package peers

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
)

// Files of the certificate directory.
const (
	certFile = "tls.crt"
	keyFile  = "tls.key"
	caFile   = "ca.crt"
)

// RequestClientCertificates makes the webhook server ask clients for a certificate without
// requiring one: the API server calls the webhooks without, replicas present theirs.
func RequestClientCertificates(c *tls.Config) { c.ClientAuth = tls.RequestClientCert }

// Authorizer returns a check that a request comes from another replica: its client certificate
// was signed by the CA in certDir, for client authentication. The CA is read at each call, so a
// rotated one is taken at once; calls are rare, since streams last.
func Authorizer(certDir string) func(*http.Request) error {
	return func(r *http.Request) error {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			return errors.New("no client certificate: only the operator's replicas may read attribution facts")
		}
		pool, err := caPool(certDir)
		if err != nil {
			return err
		}
		intermediates := x509.NewCertPool()
		for _, c := range r.TLS.PeerCertificates[1:] {
			intermediates.AddCert(c)
		}
		if _, err := r.TLS.PeerCertificates[0].Verify(x509.VerifyOptions{
			Roots: pool, Intermediates: intermediates, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}); err != nil {
			return fmt.Errorf("the client certificate is not the operator's: %w", err)
		}
		return nil
	}
}

func caPool(certDir string) (*x509.CertPool, error) {
	path := filepath.Join(certDir, caFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the webhook CA %s: %w", path, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no certificate", path)
	}
	return pool, nil
}

// clientTLS is the configuration a replica calls another with: its webhook certificate as the
// client's, the other's checked against the CA for the Service's name, which it was made for.
func clientTLS(certDir, serverName string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(certDir, certFile), filepath.Join(certDir, keyFile))
	if err != nil {
		return nil, fmt.Errorf("loading the webhook certificate from %s: %w", certDir, err)
	}
	pool, err := caPool(certDir)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}, nil
}
