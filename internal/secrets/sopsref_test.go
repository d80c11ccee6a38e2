package secrets

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"filippo.io/age"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/config"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
	"github.com/getsops/sops/v3/version"
)

// The sops library is the reference our SOPS format is checked against. It is used by the
// tests only: its root package links every cloud KMS client.

func sopsStore() *sopsyaml.Store { return sopsyaml.NewStore(&config.YAMLStoreConfig{Indent: 2}) }

// sopsRule is one of the ways sops chooses what to encrypt.
type sopsRule struct {
	name  string
	apply func(*sops.Metadata)
}

var sopsRules = []sopsRule{
	{"encrypted_regex", func(m *sops.Metadata) { m.EncryptedRegex = EncryptedRegex }},
	{"default", func(m *sops.Metadata) { m.UnencryptedSuffix = sops.DefaultUnencryptedSuffix }},
	{"encrypted_suffix", func(m *sops.Metadata) { m.EncryptedSuffix = "word" }},
	{"unencrypted_regex", func(m *sops.Metadata) { m.UnencryptedRegex = "^(kind|metadata)$" }},
	{"mac_only_encrypted", func(m *sops.Metadata) { m.EncryptedRegex = EncryptedRegex; m.MACOnlyEncrypted = true }},
}

// sopsEncrypt encrypts plain the way the sops CLI does, with the sops library.
func sopsEncrypt(plain []byte, recipients []string, rule sopsRule, now time.Time) ([]byte, error) {
	branches, err := sopsStore().LoadPlainFile(plain)
	if err != nil {
		return nil, err
	}
	dataKey := make([]byte, 32)
	if _, err := rand.Read(dataKey); err != nil {
		return nil, err
	}
	var group sops.KeyGroup
	for _, r := range recipients {
		key, err := sopsage.MasterKeyFromRecipient(r)
		if err != nil {
			return nil, err
		}
		if err := key.Encrypt(dataKey); err != nil {
			return nil, err
		}
		group = append(group, key)
	}
	tree := sops.Tree{Branches: branches, Metadata: sops.Metadata{Version: version.Version, KeyGroups: []sops.KeyGroup{group}}}
	rule.apply(&tree.Metadata)
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(dataKey, cipher)
	if err != nil {
		return nil, err
	}
	tree.Metadata.LastModified = now.UTC()
	if tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, dataKey, tree.Metadata.LastModified.Format(time.RFC3339)); err != nil {
		return nil, err
	}
	return sopsStore().EmitEncryptedFile(tree)
}

// sopsDecrypt decrypts file with the sops library and writes the plaintext without comments,
// which our Decrypt does not keep either.
func sopsDecrypt(file []byte, identities []*age.X25519Identity) ([]byte, error) {
	tree, err := sopsStore().LoadEncryptedFile(file)
	if err != nil {
		return nil, err
	}
	parsed := make(sopsage.ParsedIdentities, len(identities))
	for i, id := range identities {
		parsed[i] = id
	}
	var dataKey []byte
	for _, group := range tree.Metadata.KeyGroups {
		for _, key := range group {
			if ak, ok := key.(*sopsage.MasterKey); ok && dataKey == nil {
				parsed.ApplyToMasterKey(ak)
				if dk, err := ak.Decrypt(); err == nil {
					dataKey = dk
				}
			}
		}
	}
	if dataKey == nil {
		return nil, errors.New("no identity opens the file")
	}
	cipher := aes.NewCipher()
	mac, err := tree.Decrypt(dataKey, cipher)
	if err != nil {
		return nil, err
	}
	stored, err := cipher.Decrypt(tree.Metadata.MessageAuthenticationCode, dataKey, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		return nil, err
	}
	if stored != mac {
		return nil, fmt.Errorf("MAC mismatch: %v, computed %v", stored, mac)
	}
	for i := range tree.Branches {
		tree.Branches[i] = withoutComments(tree.Branches[i])
	}
	return sopsStore().EmitPlainFile(tree.Branches)
}

func withoutComments(b sops.TreeBranch) sops.TreeBranch {
	out := sops.TreeBranch{}
	for _, it := range b {
		if _, ok := it.Key.(sops.Comment); ok {
			continue
		}
		it.Value = valueWithoutComments(it.Value)
		out = append(out, it)
	}
	return out
}

func valueWithoutComments(v any) any {
	switch v := v.(type) {
	case sops.TreeBranch:
		return withoutComments(v)
	case []any:
		out := []any{}
		for _, e := range v {
			if _, ok := e.(sops.Comment); !ok {
				out = append(out, valueWithoutComments(e))
			}
		}
		return out
	}
	return v
}
