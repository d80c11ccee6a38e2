package secrets

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"filippo.io/age"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keys"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
	"github.com/getsops/sops/v3/version"
)

// EncryptedRegex selects what SOPS encrypts: the values, not the metadata, so diffs and reviews
// still show which object changed.
const EncryptedRegex = "^(data|stringData)$"

// ErrNoRecipients says there is nobody to encrypt to.
var ErrNoRecipients = errors.New("no age recipients")

// store reads and writes SOPS YAML the way kubectl prints YAML: two-space indents.
func store() *sopsyaml.Store { return sopsyaml.NewStore(&config.YAMLStoreConfig{Indent: 2}) }

// Encrypt returns plain (YAML) as a SOPS file encrypted to k's recipients. previous is the file
// it replaces (nil when new): when k's identities open it and its recipients are k's, the data
// key and the unchanged values' ciphertexts are kept, and an unchanged plaintext returns previous
// itself.
func Encrypt(plain []byte, k Keys, previous []byte, now time.Time) ([]byte, error) {
	if len(k.Recipients) == 0 {
		return nil, ErrNoRecipients
	}
	branches, err := store().LoadPlainFile(plain)
	if err != nil {
		return nil, fmt.Errorf("reading the manifest to encrypt: %w", err)
	}
	var old *opened
	if previous != nil {
		if o, err := open(previous, k.Identities); err == nil && sameRecipients(o.tree.Metadata, k.Recipients) {
			old = o
		}
	}
	if old != nil && bytes.Equal(mustEmitPlain(old.plain), mustEmitPlain(branches)) {
		return previous, nil
	}
	tree := sops.Tree{Branches: branches}
	var dataKey []byte
	if old != nil {
		tree.Metadata = old.tree.Metadata
		tree.Metadata.DataKey = nil
		dataKey = old.dataKey
	} else {
		if tree.Metadata, dataKey, err = newMetadata(k.Recipients); err != nil {
			return nil, err
		}
	}
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(dataKey, cipher)
	if err != nil {
		return nil, fmt.Errorf("encrypting: %w", err)
	}
	if old != nil {
		keepUnchanged(tree.Branches, branchesOf(plain), old.tree.Branches, old.plain)
	}
	tree.Metadata.LastModified = now.UTC().Truncate(time.Second)
	if tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, dataKey, tree.Metadata.LastModified.Format(time.RFC3339)); err != nil {
		return nil, fmt.Errorf("encrypting the MAC: %w", err)
	}
	out, err := store().EmitEncryptedFile(tree)
	if err != nil {
		return nil, fmt.Errorf("writing the SOPS file: %w", err)
	}
	return out, nil
}

// Decrypt opens a SOPS file with identities, checks its MAC, and returns the plaintext YAML.
func Decrypt(file []byte, k Keys) ([]byte, error) {
	o, err := open(file, k.Identities)
	if err != nil {
		return nil, err
	}
	return store().EmitPlainFile(o.plain)
}

// opened is a decrypted SOPS file: its encrypted tree, its plaintext, and its data key.
type opened struct {
	tree    sops.Tree
	plain   sops.TreeBranches
	dataKey []byte
}

func open(file []byte, identities []*age.X25519Identity) (*opened, error) {
	tree, err := store().LoadEncryptedFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading the SOPS file: %w", err)
	}
	dataKey, err := dataKeyOf(tree.Metadata, identities)
	if err != nil {
		return nil, err
	}
	encrypted, err := store().LoadEncryptedFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading the SOPS file: %w", err)
	}
	cipher := aes.NewCipher()
	mac, err := tree.Decrypt(dataKey, cipher)
	if err != nil {
		return nil, fmt.Errorf("decrypting: %w", err)
	}
	stored, err := cipher.Decrypt(tree.Metadata.MessageAuthenticationCode, dataKey, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		return nil, fmt.Errorf("decrypting the MAC: %w", err)
	}
	if s, ok := stored.(string); !ok || s != mac {
		return nil, errors.New("the SOPS file's MAC does not match its content")
	}
	return &opened{tree: encrypted, plain: tree.Branches, dataKey: dataKey}, nil
}

// dataKeyOf decrypts the data key with the first identity that opens one of the age stanzas.
// Identities are given to the keys directly, so sops never looks for keys in the environment.
func dataKeyOf(m sops.Metadata, identities []*age.X25519Identity) ([]byte, error) {
	if len(identities) == 0 {
		return nil, errors.New("no age identity to decrypt with")
	}
	parsed := make(sopsage.ParsedIdentities, len(identities))
	for i, id := range identities {
		parsed[i] = id
	}
	for _, group := range m.KeyGroups {
		for _, key := range group {
			ak, ok := key.(*sopsage.MasterKey)
			if !ok {
				continue
			}
			parsed.ApplyToMasterKey(ak)
			if dk, err := ak.Decrypt(); err == nil {
				return dk, nil
			}
		}
	}
	return nil, errors.New("none of the age identities opens the SOPS file")
}

// newMetadata makes a data key and encrypts it to every recipient.
func newMetadata(recipients []string) (sops.Metadata, []byte, error) {
	dataKey := make([]byte, 32)
	if _, err := rand.Read(dataKey); err != nil {
		return sops.Metadata{}, nil, fmt.Errorf("generating a data key: %w", err)
	}
	group := make(sops.KeyGroup, 0, len(recipients))
	for _, r := range recipients {
		if _, err := ParseRecipient(r); err != nil { // never let sops see anything else
			return sops.Metadata{}, nil, err
		}
		key, err := sopsage.MasterKeyFromRecipient(r)
		if err != nil {
			return sops.Metadata{}, nil, fmt.Errorf("age recipient %s: %w", r, err)
		}
		if err := key.Encrypt(dataKey); err != nil {
			return sops.Metadata{}, nil, fmt.Errorf("encrypting the data key to %s: %w", r, err)
		}
		group = append(group, key)
	}
	return sops.Metadata{
		EncryptedRegex: EncryptedRegex,
		Version:        version.Version,
		KeyGroups:      []sops.KeyGroup{group},
	}, dataKey, nil
}

func sameRecipients(m sops.Metadata, recipients []string) bool {
	var have []string
	for _, group := range m.KeyGroups {
		for _, key := range group {
			ak, ok := key.(*sopsage.MasterKey)
			if !ok {
				return false
			}
			have = append(have, ak.Recipient)
		}
	}
	if len(have) != len(recipients) {
		return false
	}
	seen := map[string]bool{}
	for _, r := range have {
		seen[r] = true
	}
	for _, r := range recipients {
		if !seen[r] {
			return false
		}
	}
	return true
}

var _ keys.MasterKey = (*sopsage.MasterKey)(nil)
