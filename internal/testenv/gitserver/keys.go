package gitserver

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"

	"golang.org/x/crypto/ssh"
)

// ClientKey is an SSH client identity for tests, in the encodings the operator
// and the real clients consume.
type ClientKey struct {
	// PrivateKeyPEM is the unencrypted key as "-----BEGIN OPENSSH PRIVATE
	// KEY-----", the format ssh-keygen writes and a Kubernetes
	// kubernetes.io/ssh-auth Secret carries under "ssh-privatekey".
	PrivateKeyPEM []byte
	// AuthorizedKey is the public key as an authorized_keys line
	// ("ssh-ed25519 AAAA...\n").
	AuthorizedKey []byte
	// PublicKey is what [SSHServer] authorizes.
	PublicKey ssh.PublicKey
}

// NewClientKey generates a fresh ed25519 client key pair.
func NewClientKey() (*ClientKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating ed25519 client key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "gitserver-client")
	if err != nil {
		return nil, fmt.Errorf("encoding client private key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding client public key: %w", err)
	}
	return &ClientKey{
		PrivateKeyPEM: pem.EncodeToMemory(block),
		AuthorizedKey: ssh.MarshalAuthorizedKey(sshPub),
		PublicKey:     sshPub,
	}, nil
}

// newHostSigner generates the server's ed25519 host key. It is created once
// per server and survives Stop/Start, so known_hosts entries handed to clients
// stay valid across a simulated outage.
func newHostSigner() (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating ed25519 host key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("wrapping host key: %w", err)
	}
	return signer, nil
}
