package secrets

import (
	"bytes"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"time"

	"filippo.io/age"
)

// EncryptedRegex selects what SOPS encrypts: the values, not the metadata, so diffs and reviews
// still show which object changed.
const EncryptedRegex = "^(data|stringData)$"

// ErrNoRecipients says there is nobody to encrypt to.
var ErrNoRecipients = errors.New("no age recipients")

// Encrypt returns plain (YAML) as a SOPS file encrypted to k's recipients. previous is the file
// it replaces (nil when new): when k's identities open it and its recipients are k's, the data
// key and the unchanged values' ciphertexts are kept, and an unchanged plaintext returns previous
// itself.
func Encrypt(plain []byte, k Keys, previous []byte, now time.Time) ([]byte, error) {
	if len(k.Recipients) == 0 {
		return nil, ErrNoRecipients
	}
	docs, err := readPlain(plain)
	if err != nil {
		return nil, fmt.Errorf("reading the manifest to encrypt: %w", err)
	}
	if len(docs) == 0 {
		return nil, errors.New("the manifest to encrypt is empty")
	}
	var old *openedFile
	if previous != nil {
		if o, err := openFile(previous, k.Identities); err == nil && o.meta.onlyAgeTo(k.Recipients) {
			old = o
		}
	}
	var md *metadata
	var dataKey []byte
	if old != nil {
		if same, err := samePlaintext(old.docs, docs); err == nil && same {
			return previous, nil
		}
		md, dataKey = old.meta, old.dataKey
	} else if md, dataKey, err = newMetadata(k.Recipients); err != nil {
		return nil, err
	}
	c, err := newValueCipher(dataKey)
	if err != nil {
		return nil, err
	}
	var kept map[valueKey]string
	if old != nil {
		kept = old.ciphertexts
	}
	mac, err := encryptDocuments(docs, md.rules, c, kept)
	if err != nil {
		return nil, err
	}
	md.LastModified = now.UTC().Truncate(time.Second).Format(time.RFC3339)
	if md.MAC, err = c.seal("str", []byte(mac), md.LastModified); err != nil {
		return nil, fmt.Errorf("encrypting the MAC: %w", err)
	}
	meta := md.branch()
	for i := range docs {
		docs[i] = append(docs[i], item{key: metadataKey, value: meta})
	}
	out, err := writeDocuments(docs)
	if err != nil {
		return nil, fmt.Errorf("writing the SOPS file: %w", err)
	}
	return out, nil
}

// Decrypt opens a SOPS file with identities, checks its MAC, and returns the plaintext YAML.
// Comments are not kept.
func Decrypt(file []byte, k Keys) ([]byte, error) {
	o, err := openFile(file, k.Identities)
	if err != nil {
		return nil, err
	}
	return writeDocuments(o.docs)
}

// valueKey is an encrypted value's place and plaintext: the same plaintext at the same path
// keeps its ciphertext, which stays valid under the same data key, so a commit only shows the
// values that changed.
type valueKey struct {
	aad, typ, plain string
}

// openedFile is a decrypted SOPS file.
type openedFile struct {
	docs        []branch
	meta        *metadata
	dataKey     []byte
	ciphertexts map[valueKey]string
}

func readPlain(plain []byte) ([]branch, error) {
	nodes, err := readDocuments(plain)
	if err != nil {
		return nil, err
	}
	docs, err := documentBranches(nodes)
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		for _, it := range d {
			if it.key == metadataKey {
				return nil, fmt.Errorf("the key %q is SOPS's own", metadataKey)
			}
		}
	}
	return docs, nil
}

func openFile(file []byte, identities []*age.X25519Identity) (*openedFile, error) {
	nodes, err := readDocuments(file)
	if err != nil {
		return nil, fmt.Errorf("reading the SOPS file: %w", err)
	}
	md, err := splitMetadata(nodes)
	if err != nil {
		return nil, err
	}
	docs, err := documentBranches(nodes)
	if err != nil {
		return nil, fmt.Errorf("reading the SOPS file: %w", err)
	}
	dataKey, err := md.dataKey(identities)
	if err != nil {
		return nil, err
	}
	c, err := newValueCipher(dataKey)
	if err != nil {
		return nil, err
	}
	o := &openedFile{docs: docs, meta: md, dataKey: dataKey, ciphertexts: map[valueKey]string{}}
	mac, err := decryptDocuments(docs, md.rules, c, o.ciphertexts)
	if err != nil {
		return nil, err
	}
	aad, err := md.lastModifiedAAD()
	if err != nil {
		return nil, err
	}
	stored, err := c.open(md.MAC, aad)
	if err != nil {
		return nil, fmt.Errorf("decrypting the MAC: %w", err)
	}
	if s, ok := stored.(string); !ok || s != mac {
		return nil, errors.New("the SOPS file's MAC does not match its content")
	}
	return o, nil
}

// newMAC is the hash every value of a file is authenticated with. With mac_only_encrypted it
// starts from a constant, so it never equals the MAC of all values.
func newMAC(r encryptionRules) hash.Hash {
	h := sha512.New()
	if r.macOnlyEncrypted {
		h.Write(macOnlyEncryptedInit)
	}
	return h
}

// macOnlyEncryptedInit is sops's: the MAC of a file with mac_only_encrypted starts with it.
var macOnlyEncryptedInit = []byte{0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0xb, 0xb, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69}

// encryptDocuments encrypts the values r selects, in place, and returns the MAC of the plaintext.
func encryptDocuments(docs []branch, r encryptionRules, c valueCipher, kept map[valueKey]string) (string, error) {
	mac := newMAC(r)
	for _, d := range docs {
		err := walk(d, nil, func(v any, path []string) (any, error) {
			encrypted := r.encrypts(path)
			typ, plain, err := typed(v)
			if err != nil {
				return nil, fmt.Errorf("at %s: %w", additionalData(path), err)
			}
			if encrypted || !r.macOnlyEncrypted {
				mac.Write(plain)
			}
			if !encrypted {
				return v, nil
			}
			aad := additionalData(path)
			if ct, ok := kept[valueKey{aad, typ, string(plain)}]; ok {
				return ct, nil
			}
			ct, err := c.seal(typ, plain, aad)
			if err != nil {
				return nil, fmt.Errorf("encrypting %s: %w", aad, err)
			}
			return ct, nil
		})
		if err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%X", mac.Sum(nil)), nil
}

// decryptDocuments decrypts the values r selects, in place, records their ciphertexts, and
// returns the MAC of the plaintext.
func decryptDocuments(docs []branch, r encryptionRules, c valueCipher, ciphertexts map[valueKey]string) (string, error) {
	mac := newMAC(r)
	for _, d := range docs {
		err := walk(d, nil, func(v any, path []string) (any, error) {
			encrypted := r.encrypts(path)
			aad := additionalData(path)
			if encrypted {
				ct, ok := v.(string)
				if !ok {
					return nil, fmt.Errorf("the value at %s should be encrypted and is a %T", aad, v)
				}
				var err error
				if v, err = c.open(ct, aad); err != nil {
					return nil, fmt.Errorf("decrypting %s: %w", aad, err)
				}
				if _, ok := v.(comment); ok {
					return v, nil
				}
				typ, plain, err := typed(v)
				if err != nil {
					return nil, fmt.Errorf("decrypting %s: %w", aad, err)
				}
				if ct != "" {
					ciphertexts[valueKey{aad, typ, string(plain)}] = ct
				}
			}
			if encrypted || !r.macOnlyEncrypted {
				_, plain, err := typed(v)
				if err != nil {
					return nil, fmt.Errorf("at %s: %w", aad, err)
				}
				mac.Write(plain)
			}
			return v, nil
		})
		if err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%X", mac.Sum(nil)), nil
}

// samePlaintext compares two plaintexts as they would be written.
func samePlaintext(a, b []branch) (bool, error) {
	wa, err := writeDocuments(a)
	if err != nil {
		return false, err
	}
	wb, err := writeDocuments(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(wa, wb), nil
}
