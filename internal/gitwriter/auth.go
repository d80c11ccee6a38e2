package gitwriter

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/skeema/knownhosts"
)

// Credentials are what a GitProvider's Secret holds, decoded. Key names of Kubernetes, Flux and
// Argo CD Secrets are all understood by CredentialsFromSecret.
type Credentials struct {
	SSHPrivateKey []byte
	Passphrase    []byte
	KnownHosts    []byte
	Username      string
	Password      string
	BearerToken   string
	CABundle      []byte
	// SSHAgent signs with the keys of the SSH agent at $SSH_AUTH_SOCK when no private key is
	// given: the file-config mode, run by a person as git would be.
	SSHAgent bool
}

// secretKeys lists, per credential, the Secret keys that may hold it, in order of preference.
var secretKeys = struct {
	sshKey, passphrase, knownHosts, username, password, bearer, ca []string
}{
	sshKey:     []string{"ssh-privatekey", "identity", "sshPrivateKey"},
	passphrase: []string{"passphrase", "password"},
	knownHosts: []string{"known_hosts"},
	username:   []string{"username"},
	password:   []string{"password"},
	bearer:     []string{"bearerToken", "token"},
	ca:         []string{"ca.crt", "caFile", "ca"},
}

func firstKey(data map[string][]byte, keys []string) []byte {
	for _, k := range keys {
		if v, ok := data[k]; ok && len(v) > 0 {
			return v
		}
	}
	return nil
}

// CredentialsFromSecret reads credentials from a Secret's data.
func CredentialsFromSecret(data map[string][]byte) Credentials {
	c := Credentials{
		SSHPrivateKey: firstKey(data, secretKeys.sshKey),
		KnownHosts:    firstKey(data, secretKeys.knownHosts),
		Username:      string(firstKey(data, secretKeys.username)),
		BearerToken:   strings.TrimSpace(string(firstKey(data, secretKeys.bearer))),
		CABundle:      firstKey(data, secretKeys.ca),
	}
	if c.SSHPrivateKey != nil {
		c.Passphrase = firstKey(data, secretKeys.passphrase)
	} else {
		c.Password = string(firstKey(data, secretKeys.password))
	}
	return c
}

// remoteEndpoint is a parsed URL with the auth method that fits it.
type remoteEndpoint struct {
	url  string
	ep   *transport.Endpoint
	auth transport.AuthMethod
}

// ErrInvalidCredentials says the Secret's content cannot be used for the URL.
var ErrInvalidCredentials = errors.New("invalid credentials")

// ErrNoKnownHosts says an SSH URL came without known_hosts; SSH fails closed.
var ErrNoKnownHosts = errors.New("no known_hosts for SSH host key verification")

// newRemoteEndpoint builds the endpoint and auth for url. knownHostsFile is where known_hosts lines
// are written for the SSH client, which reads them from a file.
func newRemoteEndpoint(url string, creds Credentials, knownHostsFile string) (*remoteEndpoint, error) {
	ep, err := transport.NewEndpoint(url)
	if err != nil {
		return nil, fmt.Errorf("parsing repository URL: %w", err)
	}
	r := &remoteEndpoint{url: url, ep: ep}
	switch ep.Protocol {
	case "ssh":
		r.auth, err = sshAuth(ep, creds, knownHostsFile)
	case "http", "https":
		ep.CaBundle = creds.CABundle
		r.auth, err = httpAuth(creds)
	case "file":
	default:
		err = fmt.Errorf("unsupported protocol %q", ep.Protocol)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

func sshAuth(ep *transport.Endpoint, creds Credentials, knownHostsFile string) (transport.AuthMethod, error) {
	if len(creds.SSHPrivateKey) == 0 && !creds.SSHAgent {
		return nil, fmt.Errorf("%w: an SSH URL needs a private key under ssh-privatekey, identity or sshPrivateKey", ErrInvalidCredentials)
	}
	if len(strings.TrimSpace(string(creds.KnownHosts))) == 0 {
		scan := "ssh-keyscan " + ep.Host
		if ep.Port != 0 && ep.Port != 22 {
			scan = fmt.Sprintf("ssh-keyscan -p %d %s", ep.Port, ep.Host)
		}
		return nil, fmt.Errorf("%w: add the host's keys (%s) under known_hosts", ErrNoKnownHosts, scan)
	}
	user := ep.User
	if user == "" {
		user = "git"
	}
	helper, auth, err := sshClientAuth(user, creds)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(knownHostsFile), 0o700); err != nil {
		return nil, fmt.Errorf("writing known_hosts: %w", err)
	}
	if err := os.WriteFile(knownHostsFile, creds.KnownHosts, 0o600); err != nil {
		return nil, fmt.Errorf("writing known_hosts: %w", err)
	}
	db, err := knownhosts.NewDB(knownHostsFile)
	if err != nil {
		return nil, fmt.Errorf("%w: parsing known_hosts: %v", ErrNoKnownHosts, err)
	}
	port := ep.Port
	if port == 0 {
		port = 22
	}
	hostPort := net.JoinHostPort(ep.Host, fmt.Sprint(port))
	helper.HostKeyCallback = db.HostKeyCallback()
	// Offer only the key types known_hosts has for this host, so the server does not pick a type
	// we cannot verify.
	helper.HostKeyAlgorithms = db.HostKeyAlgorithms(hostPort)
	return auth, nil
}

// sshClientAuth is the private key, or the SSH agent, with the helper that verifies the host.
func sshClientAuth(user string, creds Credentials) (*gitssh.HostKeyCallbackHelper, transport.AuthMethod, error) {
	if len(creds.SSHPrivateKey) == 0 {
		agent, err := gitssh.NewSSHAgentAuth(user)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: no SSH private key given and no SSH agent: %v", ErrInvalidCredentials, err)
		}
		return &agent.HostKeyCallbackHelper, agent, nil
	}
	keys, err := gitssh.NewPublicKeys(user, creds.SSHPrivateKey, string(creds.Passphrase))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: reading the SSH private key: %v", ErrInvalidCredentials, err)
	}
	return &keys.HostKeyCallbackHelper, keys, nil
}

func httpAuth(creds Credentials) (transport.AuthMethod, error) {
	switch {
	case creds.BearerToken != "":
		return &githttp.TokenAuth{Token: creds.BearerToken}, nil
	case creds.Username != "" || creds.Password != "":
		user := creds.Username
		if user == "" {
			// Token-only Secrets: most hosts accept any user name with a token as password.
			user = "git"
		}
		return &githttp.BasicAuth{Username: user, Password: creds.Password}, nil
	}
	return nil, nil
}
