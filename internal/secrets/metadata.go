package secrets

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"go.yaml.in/yaml/v3"
)

// sopsFormatVersion is the sops release whose file format we write. The sops CLI reads any 3.x
// file; writing the release our files were first written with keeps re-encrypted files' metadata
// unchanged.
const sopsFormatVersion = "3.13.3"

// defaultUnencryptedSuffix is what sops leaves unencrypted when a file names no rule.
const defaultUnencryptedSuffix = "_unencrypted"

// metadata is a SOPS file's `sops` block. Only age keys are read; the other key types are named
// so a file that only they open gets an error saying so.
type metadata struct {
	Age               []ageStanza    `yaml:"age,omitempty"`
	KeyGroups         []keyGroup     `yaml:"key_groups,omitempty"`
	LastModified      string         `yaml:"lastmodified"`
	MAC               string         `yaml:"mac"`
	UnencryptedSuffix string         `yaml:"unencrypted_suffix,omitempty"`
	EncryptedSuffix   string         `yaml:"encrypted_suffix,omitempty"`
	UnencryptedRegex  string         `yaml:"unencrypted_regex,omitempty"`
	EncryptedRegex    string         `yaml:"encrypted_regex,omitempty"`
	UnencryptedCRegex string         `yaml:"unencrypted_comment_regex,omitempty"`
	EncryptedCRegex   string         `yaml:"encrypted_comment_regex,omitempty"`
	MACOnlyEncrypted  bool           `yaml:"mac_only_encrypted,omitempty"`
	Version           string         `yaml:"version"`
	Other             map[string]any `yaml:",inline"`

	otherKeyTypes []string        // the key types other than age the file names
	rules         encryptionRules // what the file encrypts
}

type ageStanza struct {
	Recipient string `yaml:"recipient"`
	Enc       string `yaml:"enc"`
}

type keyGroup struct {
	Age   []ageStanza    `yaml:"age,omitempty"`
	Other map[string]any `yaml:",inline"`
}

// keyTypes are the sops key types other than age, which we cannot open.
var keyTypes = []string{"pgp", "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault"}

// splitMetadata takes the `sops` key out of every document and reads the first document's.
func splitMetadata(docs []*yaml.Node) (*metadata, error) {
	var found *yaml.Node
	for i, doc := range docs {
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		m := doc.Content[0]
		for j := 0; j+1 < len(m.Content); j += 2 {
			if m.Content[j].Kind == yaml.ScalarNode && m.Content[j].Value == metadataKey {
				if i == 0 {
					found = m.Content[j+1]
				}
				m.Content = slices.Delete(m.Content, j, j+2)
				j -= 2
			}
		}
	}
	if found == nil {
		return nil, errors.New("not a SOPS file: it has no sops metadata")
	}
	if found.Kind != yaml.MappingNode {
		return nil, errors.New("the sops metadata is not a mapping")
	}
	md := &metadata{}
	if err := found.Decode(md); err != nil {
		return nil, fmt.Errorf("reading the sops metadata: %w", err)
	}
	for _, t := range keyTypes {
		if _, ok := md.Other[t]; ok {
			md.otherKeyTypes = append(md.otherKeyTypes, t)
		}
	}
	rules, err := md.encryptionRules()
	if err != nil {
		return nil, err
	}
	md.rules = rules
	return md, nil
}

// encryptionRules are which values a file encrypts, as sops decides it from the keys on the path.
type encryptionRules struct {
	unencryptedSuffix, encryptedSuffix string
	unencryptedRegex, encryptedRegex   *regexp.Regexp
	macOnlyEncrypted                   bool
}

func (m *metadata) encryptionRules() (encryptionRules, error) {
	if m.UnencryptedCRegex != "" || m.EncryptedCRegex != "" {
		return encryptionRules{}, errors.New("SOPS files that choose what to encrypt by comments (encrypted_comment_regex, unencrypted_comment_regex) are not supported")
	}
	set := 0
	for _, s := range []string{m.UnencryptedSuffix, m.EncryptedSuffix, m.UnencryptedRegex, m.EncryptedRegex} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		return encryptionRules{}, errors.New("the sops metadata names more than one of unencrypted_suffix, encrypted_suffix, unencrypted_regex and encrypted_regex")
	}
	if set == 0 {
		m.UnencryptedSuffix = defaultUnencryptedSuffix
	}
	r := encryptionRules{unencryptedSuffix: m.UnencryptedSuffix, encryptedSuffix: m.EncryptedSuffix, macOnlyEncrypted: m.MACOnlyEncrypted}
	var err error
	if m.UnencryptedRegex != "" {
		if r.unencryptedRegex, err = regexp.Compile(m.UnencryptedRegex); err != nil {
			return encryptionRules{}, fmt.Errorf("the sops metadata's unencrypted_regex: %w", err)
		}
	}
	if m.EncryptedRegex != "" {
		if r.encryptedRegex, err = regexp.Compile(m.EncryptedRegex); err != nil {
			return encryptionRules{}, fmt.Errorf("the sops metadata's encrypted_regex: %w", err)
		}
	}
	return r, nil
}

// encrypts says whether the value at path is encrypted: any key on the path may decide.
func (r encryptionRules) encrypts(path []string) bool {
	switch {
	case r.unencryptedSuffix != "":
		return !slices.ContainsFunc(path, func(k string) bool { return strings.HasSuffix(k, r.unencryptedSuffix) })
	case r.encryptedSuffix != "":
		return slices.ContainsFunc(path, func(k string) bool { return strings.HasSuffix(k, r.encryptedSuffix) })
	case r.unencryptedRegex != nil:
		return !slices.ContainsFunc(path, r.unencryptedRegex.MatchString)
	case r.encryptedRegex != nil:
		return slices.ContainsFunc(path, r.encryptedRegex.MatchString)
	}
	return true
}

// ageStanzas are the age keys the data key is encrypted to. With several key groups the data
// key is split among them (Shamir's scheme), which we do not do.
func (m *metadata) ageStanzas() ([]ageStanza, error) {
	if len(m.KeyGroups) > 1 {
		return nil, fmt.Errorf("the SOPS file splits its data key among %d key groups, which is not supported", len(m.KeyGroups))
	}
	if len(m.KeyGroups) == 1 {
		return m.KeyGroups[0].Age, nil
	}
	return m.Age, nil
}

// dataKey decrypts the data key with the first identity that opens one of the age stanzas.
func (m *metadata) dataKey(identities []*age.X25519Identity) ([]byte, error) {
	if len(identities) == 0 {
		return nil, errors.New("no age identity to decrypt with")
	}
	stanzas, err := m.ageStanzas()
	if err != nil {
		return nil, err
	}
	if len(stanzas) == 0 {
		if len(m.otherKeyTypes) > 0 {
			return nil, fmt.Errorf("the SOPS file is encrypted to %s keys only, not to age", strings.Join(m.otherKeyTypes, ", "))
		}
		return nil, errors.New("the SOPS file has no age recipients")
	}
	ids := make([]age.Identity, len(identities))
	for i, id := range identities {
		ids[i] = id
	}
	for _, s := range stanzas {
		r, err := age.Decrypt(armor.NewReader(strings.NewReader(s.Enc)), ids...)
		if err != nil {
			continue
		}
		key, err := io.ReadAll(io.LimitReader(r, 64))
		if err != nil {
			return nil, fmt.Errorf("decrypting the data key of %s: %w", s.Recipient, err)
		}
		return key, nil
	}
	return nil, errors.New("none of the age identities opens the SOPS file")
}

// onlyAgeTo says whether the file's data key is encrypted to exactly recipients, and to nothing
// else, so keeping it keeps who can read the file.
func (m *metadata) onlyAgeTo(recipients []string) bool {
	if len(m.otherKeyTypes) > 0 || len(m.KeyGroups) > 0 {
		return false
	}
	have := make([]string, 0, len(m.Age))
	for _, s := range m.Age {
		have = append(have, s.Recipient)
	}
	slices.Sort(have)
	want := slices.Clone(recipients)
	slices.Sort(want)
	return slices.Equal(have, slices.Compact(want))
}

// newMetadata makes a data key and encrypts it to every recipient.
func newMetadata(recipients []string) (*metadata, []byte, error) {
	dataKey := make([]byte, 32)
	if _, err := rand.Read(dataKey); err != nil {
		return nil, nil, fmt.Errorf("generating a data key: %w", err)
	}
	md := &metadata{EncryptedRegex: EncryptedRegex, Version: sopsFormatVersion}
	for _, rs := range recipients {
		r, err := ParseRecipient(rs)
		if err != nil {
			return nil, nil, err
		}
		var buf bytes.Buffer
		aw := armor.NewWriter(&buf)
		w, err := age.Encrypt(aw, r)
		if err != nil {
			return nil, nil, fmt.Errorf("encrypting the data key to %s: %w", rs, err)
		}
		if _, err := w.Write(dataKey); err != nil {
			return nil, nil, fmt.Errorf("encrypting the data key to %s: %w", rs, err)
		}
		if err := w.Close(); err != nil {
			return nil, nil, fmt.Errorf("encrypting the data key to %s: %w", rs, err)
		}
		if err := aw.Close(); err != nil {
			return nil, nil, fmt.Errorf("encrypting the data key to %s: %w", rs, err)
		}
		md.Age = append(md.Age, ageStanza{Recipient: r.String(), Enc: buf.String()})
	}
	rules, err := md.encryptionRules()
	if err != nil {
		return nil, nil, err
	}
	md.rules = rules
	return md, dataKey, nil
}

// lastModifiedAAD is the MAC's additional data: the timestamp as sops formats it.
func (m *metadata) lastModifiedAAD() (string, error) {
	t, err := time.Parse(time.RFC3339, m.LastModified)
	if err != nil {
		return "", fmt.Errorf("the sops metadata's lastmodified %q: %w", m.LastModified, err)
	}
	return t.Format(time.RFC3339), nil
}

// branch is the `sops` block as the sops CLI writes it: keys sorted, empty ones left out.
func (m *metadata) branch() branch {
	var b branch
	if len(m.Age) > 0 {
		stanzas := make([]any, 0, len(m.Age))
		for _, s := range m.Age {
			stanzas = append(stanzas, branch{{key: "enc", value: s.Enc}, {key: "recipient", value: s.Recipient}})
		}
		b = append(b, item{key: "age", value: stanzas})
	}
	add := func(key, value string) {
		if value != "" {
			b = append(b, item{key: key, value: value})
		}
	}
	add("encrypted_regex", m.EncryptedRegex)
	add("encrypted_suffix", m.EncryptedSuffix)
	b = append(b, item{key: "lastmodified", value: m.LastModified}, item{key: "mac", value: m.MAC})
	if m.MACOnlyEncrypted {
		b = append(b, item{key: "mac_only_encrypted", value: true})
	}
	add("unencrypted_regex", m.UnencryptedRegex)
	add("unencrypted_suffix", m.UnencryptedSuffix)
	b = append(b, item{key: "version", value: m.Version})
	sort.SliceStable(b, func(i, j int) bool { return b[i].key < b[j].key })
	return b
}
