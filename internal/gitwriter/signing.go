package gitwriter

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

// NewSigner builds the Signer for a private key from a Secret: an OpenSSH private key signs as
// git's gpg.format=ssh does, an armored OpenPGP key as git's default gpg.format. An empty format
// is detected from the key.
func NewSigner(key, passphrase []byte, format configv1alpha1.SigningFormat) (Signer, error) {
	if format == "" {
		format = configv1alpha1.SigningFormatSSH
		if bytes.Contains(key, []byte("BEGIN PGP PRIVATE KEY BLOCK")) {
			format = configv1alpha1.SigningFormatOpenPGP
		}
	}
	switch format {
	case configv1alpha1.SigningFormatSSH:
		return newSSHSigner(key, passphrase)
	case configv1alpha1.SigningFormatOpenPGP:
		return newOpenPGPSigner(key, passphrase)
	}
	return nil, fmt.Errorf("unknown signing format %q", format)
}

type sshSigner struct{ signer ssh.Signer }

func newSSHSigner(key, passphrase []byte) (Signer, error) {
	var signer ssh.Signer
	var err error
	if len(passphrase) > 0 {
		signer, err = ssh.ParsePrivateKeyWithPassphrase(key, passphrase)
	} else {
		signer, err = ssh.ParsePrivateKey(key)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: reading the SSH signing key: %v", ErrInvalidCredentials, err)
	}
	return &sshSigner{signer: signer}, nil
}

// Sign makes an SSH signature in git's namespace, as `git commit -S` with gpg.format=ssh does.
func (s *sshSigner) Sign(message []byte) (string, error) {
	sig, err := sshsig.Sign(bytes.NewReader(message), s.signer, sshsig.HashSHA512, "git")
	if err != nil {
		return "", err
	}
	return string(sshsig.Armor(sig)), nil
}

type openPGPSigner struct{ entity *openpgp.Entity }

func newOpenPGPSigner(key, passphrase []byte) (Signer, error) {
	entities, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(key))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the OpenPGP signing key: %v", ErrInvalidCredentials, err)
	}
	if len(entities) != 1 || entities[0].PrivateKey == nil {
		return nil, fmt.Errorf("%w: the OpenPGP signing key must hold exactly one private key", ErrInvalidCredentials)
	}
	entity := entities[0]
	if entity.PrivateKey.Encrypted {
		if len(passphrase) == 0 {
			return nil, fmt.Errorf("%w: the OpenPGP signing key is encrypted and no passphrase was given", ErrInvalidCredentials)
		}
		if err := entity.PrivateKey.Decrypt(passphrase); err != nil {
			return nil, fmt.Errorf("%w: decrypting the OpenPGP signing key: %v", ErrInvalidCredentials, err)
		}
	}
	return &openPGPSigner{entity: entity}, nil
}

// Sign makes an armored detached OpenPGP signature, as `git commit -S` does.
func (s *openPGPSigner) Sign(message []byte) (string, error) {
	var buf bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&buf, s.entity, bytes.NewReader(message), nil); err != nil {
		return "", errors.Join(errors.New("signing with OpenPGP"), err)
	}
	return buf.String(), nil
}
