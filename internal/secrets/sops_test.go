package secrets

import (
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	. "github.com/onsi/gomega"
)

const secretYAML = `apiVersion: v1
data:
  password: aHVudGVyMg==
  username: YWRtaW4=
kind: Secret
metadata:
  name: db
  namespace: default
type: Opaque
`

func newKeys(t testing.TB) Keys {
	t.Helper()
	key, err := Generate(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ParseIdentities(key.Content)
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKeys(nil, ids, true)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestEncryptedSecretsKeepMetadataReadableAndDecryptToThePlaintext(t *testing.T) {
	g := NewWithT(t)
	k := newKeys(t)
	out, err := Encrypt([]byte(secretYAML), k, nil, time.Now())
	g.Expect(err).NotTo(HaveOccurred())
	s := string(out)
	g.Expect(s).To(ContainSubstring("name: db"), "metadata stays readable")
	g.Expect(s).To(ContainSubstring("password: ENC[AES256_GCM,"))
	g.Expect(s).To(ContainSubstring("encrypted_regex: ^(data|stringData)$"))
	g.Expect(s).To(ContainSubstring("recipient: " + k.Recipients[0]))
	for _, secret := range []string{"aHVudGVyMg==", "hunter2", "YWRtaW4=", "admin"} {
		g.Expect(s).NotTo(ContainSubstring(secret))
	}
	plain, err := Decrypt(out, k)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(plain)).To(Equal(secretYAML))

	other := newKeys(t)
	_, err = Decrypt(out, other)
	g.Expect(err).To(MatchError(ContainSubstring("none of the age identities")))
}

func TestUnchangedSecretsKeepTheirFileAndChangedOnesOnlyWhatChanged(t *testing.T) {
	g := NewWithT(t)
	k := newKeys(t)
	first, err := Encrypt([]byte(secretYAML), k, nil, time.Now())
	g.Expect(err).NotTo(HaveOccurred())
	again, err := Encrypt([]byte(secretYAML), k, first, time.Now().Add(time.Hour))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(again).To(Equal(first), "same plaintext, same file")

	changed := strings.Replace(secretYAML, "aHVudGVyMg==", "c3dvcmRmaXNo", 1)
	second, err := Encrypt([]byte(changed), k, first, time.Now().Add(time.Hour))
	g.Expect(err).NotTo(HaveOccurred())
	diff := changedLines(string(first), string(second))
	g.Expect(diff).To(HaveLen(3), "the password, the MAC and lastmodified: %v", diff)
	g.Expect(diff).To(ContainElement(HavePrefix("  password: ENC[")))
	plain, err := Decrypt(second, k)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(plain)).To(Equal(changed))

	// Without an identity the old file cannot be opened: everything is encrypted anew.
	publicOnly, err := NewKeys(k.Recipients, nil, false)
	g.Expect(err).NotTo(HaveOccurred())
	fresh, err := Encrypt([]byte(secretYAML), publicOnly, first, time.Now())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(fresh).NotTo(Equal(first))
	plain, err = Decrypt(fresh, k)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(plain)).To(Equal(secretYAML))
}

func TestANewRecipientReencryptsForEveryone(t *testing.T) {
	g := NewWithT(t)
	a, b := newKeys(t), newKeys(t)
	first, err := Encrypt([]byte(secretYAML), a, nil, time.Now())
	g.Expect(err).NotTo(HaveOccurred())
	both, err := NewKeys(append(append([]string{}, a.Recipients...), b.Recipients...), a.Identities, false)
	g.Expect(err).NotTo(HaveOccurred())
	rotated, err := Encrypt([]byte(secretYAML), both, first, time.Now())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rotated).NotTo(Equal(first))
	for _, k := range []Keys{a, b} {
		plain, err := Decrypt(rotated, k)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(string(plain)).To(Equal(secretYAML))
	}
}

func TestOnlyX25519RecipientsAreAccepted(t *testing.T) {
	g := NewWithT(t)
	id, err := age.GenerateX25519Identity()
	g.Expect(err).NotTo(HaveOccurred())
	for _, bad := range []string{
		"age1yubikey1qwe7mm7nsxzdy2fzk3lj5d9sqzj3hxl7wjv7q9trgqzyu5y9s6p9sg0xe4d", // a plugin recipient: sops would run age-plugin-yubikey
		"age1notbech32",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA",
		"",
	} {
		_, err := NewKeys([]string{bad}, nil, false)
		g.Expect(err).To(HaveOccurred(), bad)
	}
	k, err := NewKeys([]string{id.Recipient().String(), id.Recipient().String()}, nil, false)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(k.Recipients).To(HaveLen(1))
	_, err = Encrypt([]byte(secretYAML), Keys{}, nil, time.Now())
	g.Expect(err).To(MatchError(ErrNoRecipients))
	_, err = Encrypt(nil, k, nil, time.Now())
	g.Expect(err).To(MatchError(ContainSubstring("empty")))
}

func changedLines(a, b string) []string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := range bl {
		if i >= len(al) || al[i] != bl[i] {
			out = append(out, bl[i])
		}
	}
	return out
}
