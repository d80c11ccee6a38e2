package secrets

import (
	"regexp"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// plains are manifests of the shapes SOPS files hold: every scalar type, nesting, lists, empty
// and null values, keys the rules treat differently, several documents.
var plains = []string{
	secretYAML,
	`apiVersion: v1
kind: ConfigMap
metadata:
  annotations:
    note: "true"
  labels:
    app: web
  name: settings
  namespace: team-a
data:
  empty: ""
  json: '{"a": [1, 2]}'
  multi: |
    line one
    line two
  number: "42"
  unicode: "żółw 🐢"
`,
	`kind: Custom
spec:
  data:
    count: 3
    ratio: 0.25
    big: 1e+300
    enabled: true
    off: false
    none: null
    when: !!timestamp 2026-12-01T10:00:00Z
    list:
      - a
      - 1
      - nested:
          - x: y
      - []
      - {}
  password_unencrypted: visible
  secretword: hidden
`,
	`apiVersion: v1
kind: Secret
metadata:
  name: first
stringData:
  token: abc
---
apiVersion: v1
kind: Secret
metadata:
  name: second
stringData:
  token: def
`,
}

var valueOrKey = regexp.MustCompile(`ENC\[AES256_GCM,[^\]]*\]|(?s)-----BEGIN AGE ENCRYPTED FILE-----.*?-----END AGE ENCRYPTED FILE-----|lastmodified: .*`)

func masked(file []byte) string { return valueOrKey.ReplaceAllString(string(file), "…") }

func TestOurFilesAreLaidOutLineForLineAsTheSopsLibraryWritesThem(t *testing.T) {
	g := NewWithT(t)
	k := newKeys(t)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, plain := range plains {
		ours, err := Encrypt([]byte(plain), k, nil, now)
		g.Expect(err).NotTo(HaveOccurred())
		theirs, err := sopsEncrypt([]byte(plain), k.Recipients, sopsRules[0], now)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(masked(ours)).To(Equal(masked(theirs)), "so a file written before the switch changes only where its values do")
		g.Expect(strings.Count(string(ours), "ENC[")).To(Equal(strings.Count(string(theirs), "ENC[")))
	}
}

func TestSopsAndOursOpenEachOthersFiles(t *testing.T) {
	g := NewWithT(t)
	k := newKeys(t)
	now := time.Now()
	for _, plain := range plains {
		want, err := Decrypt(mustEncrypt(t, plain, k), k)
		g.Expect(err).NotTo(HaveOccurred())
		canonical, err := readPlain([]byte(plain))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(writeDocuments(canonical)).To(Equal(want))

		byThem, err := sopsDecrypt(mustEncrypt(t, plain, k), k.Identities)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(string(byThem)).To(Equal(string(want)))

		for _, rule := range sopsRules {
			theirs, err := sopsEncrypt([]byte(plain), k.Recipients, rule, now)
			g.Expect(err).NotTo(HaveOccurred())
			byUs, err := Decrypt(theirs, k)
			g.Expect(err).NotTo(HaveOccurred(), rule.name)
			g.Expect(string(byUs)).To(Equal(string(want)), rule.name)
		}
	}
}

func TestAFileTheSopsCLIWroteKeepsItsKeyRuleAndCiphertexts(t *testing.T) {
	g := NewWithT(t)
	k := newKeys(t)
	for _, rule := range sopsRules {
		theirs, err := sopsEncrypt([]byte(secretYAML), k.Recipients, rule, time.Now())
		g.Expect(err).NotTo(HaveOccurred())
		changed := strings.Replace(secretYAML, "aHVudGVyMg==", "c3dvcmRmaXNo", 1)
		ours, err := Encrypt([]byte(changed), k, theirs, time.Now().Add(time.Hour))
		g.Expect(err).NotTo(HaveOccurred())
		diff := changedLines(string(theirs), string(ours))
		g.Expect(diff).To(HaveLen(3), "%s: the password, the MAC and lastmodified: %v", rule.name, diff)
		plain, err := sopsDecrypt(ours, k.Identities)
		g.Expect(err).NotTo(HaveOccurred(), rule.name)
		g.Expect(string(plain)).To(Equal(changed))
	}
}

func TestTamperedOrForeignFilesDoNotOpenAndSayWhy(t *testing.T) {
	g := NewWithT(t)
	k := newKeys(t)
	file := string(mustEncrypt(t, secretYAML, k))
	password := regexp.MustCompile(`password: (ENC\[[^\]]*\])`).FindStringSubmatch(file)[1]
	username := regexp.MustCompile(`username: (ENC\[[^\]]*\])`).FindStringSubmatch(file)[1]
	onlyMAC, err := sopsEncrypt([]byte(secretYAML), k.Recipients, sopsRules[4], time.Now())
	g.Expect(err).NotTo(HaveOccurred())
	for name, c := range map[string]struct{ file, says string }{
		"a value moved to another key": {strings.Replace(file, username, password, 1), "decrypting data:username:"},
		"a plaintext changed":          {strings.Replace(file, "name: db", "name: other", 1), "MAC does not match"},
		"a value left in plaintext":    {strings.Replace(file, username, "YWRtaW4=", 1), "decrypting data:username:"},
		"a value added in plaintext, MAC over encrypted only": {
			strings.Replace(string(onlyMAC), "data:\n", "data:\n  extra: 1\n", 1), "should be encrypted"},
		"no metadata":        {strings.Split(file, "sops:")[0], "no sops metadata"},
		"split key groups":   {strings.Replace(file, "sops:\n", "sops:\n  key_groups: [{age: []}, {age: []}]\n", 1), "2 key groups"},
		"comment rules":      {strings.Replace(file, "encrypted_regex:", "encrypted_comment_regex: x\n  encrypted_regex:", 1), "not supported"},
		"a PGP key only":     {regexp.MustCompile(`(?s)  age:.*?  encrypted_regex`).ReplaceAllString(file, "  pgp: [{fp: ABC, enc: x}]\n  encrypted_regex"), "pgp keys only"},
		"an alias":           {strings.Replace(file, "name: db", "name: &n db\n  other: *n", 1), "aliases"},
		"a key twice":        {strings.Replace(file, "name: db", "name: db\n  name: db", 1), "appears twice"},
		"a tampered nonce":   {strings.Replace(file, password, strings.Replace(password, ",iv:", ",iv:AAAA", 1), 1), "nonce"},
		"a list as document": {file + "---\n- a\n", "must be a mapping"},
	} {
		_, err := Decrypt([]byte(c.file), k)
		g.Expect(err).To(MatchError(ContainSubstring(c.says)), name)
		if name != "comment rules" && name != "split key groups" && name != "an alias" && name != "a key twice" {
			_, err := sopsDecrypt([]byte(c.file), k.Identities)
			g.Expect(err).To(HaveOccurred(), "the sops library refuses it too: %s", name)
		}
	}
}

func mustEncrypt(t *testing.T, plain string, k Keys) []byte {
	t.Helper()
	out, err := Encrypt([]byte(plain), k, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return out
}
