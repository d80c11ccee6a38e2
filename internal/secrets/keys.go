package secrets

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"filippo.io/age"
)

// AgeKeySuffix ends the names of the Secret entries that hold age private keys.
const AgeKeySuffix = ".agekey"

// ParseRecipient accepts only an age X25519 recipient (`age1` and 58 bech32 characters).
func ParseRecipient(s string) (*age.X25519Recipient, error) {
	s = strings.TrimSpace(s)
	r, err := age.ParseX25519Recipient(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not an age X25519 public key: %w", s, err)
	}
	return r, nil
}

// ParseIdentities reads the age X25519 identities of an `*.agekey` entry: age-keygen's format,
// `AGE-SECRET-KEY-1…` lines with `#` comments.
func ParseIdentities(data []byte) ([]*age.X25519Identity, error) {
	var out []*age.X25519Identity
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, err := age.ParseX25519Identity(line)
		if err != nil {
			return nil, fmt.Errorf("not an age X25519 private key: %w", err)
		}
		out = append(out, id)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no age private key")
	}
	return out, nil
}

// Keys are what a GitTarget encrypts to and decrypts with.
type Keys struct {
	// Recipients are age X25519 public keys, sorted and without duplicates.
	Recipients []string
	// Identities open files encrypted to their recipients; may be empty when only public keys
	// are configured.
	Identities []*age.X25519Identity
}

// NewKeys validates recipients and adds the recipients of identities.
func NewKeys(publicKeys []string, identities []*age.X25519Identity, extract bool) (Keys, error) {
	k := Keys{Identities: identities}
	for _, p := range publicKeys {
		r, err := ParseRecipient(p)
		if err != nil {
			return Keys{}, err
		}
		k.Recipients = append(k.Recipients, r.String())
	}
	if extract {
		for _, id := range identities {
			k.Recipients = append(k.Recipients, id.Recipient().String())
		}
	}
	slices.Sort(k.Recipients)
	k.Recipients = slices.Compact(k.Recipients)
	return k, nil
}

// GeneratedKey is a new age key as an `*.agekey` entry.
type GeneratedKey struct {
	Entry     string // the Secret key, `<date>.agekey`
	Content   []byte // age-keygen's format
	Recipient string
}

// Generate makes a new age X25519 key, named for the day it was made.
func Generate(now time.Time) (GeneratedKey, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return GeneratedKey{}, fmt.Errorf("generating an age key: %w", err)
	}
	recipient := id.Recipient().String()
	content := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n", now.UTC().Format(time.RFC3339), recipient, id.String())
	return GeneratedKey{Entry: now.UTC().Format("2006-01-02") + AgeKeySuffix, Content: []byte(content), Recipient: recipient}, nil
}
