package commitmsg

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

func TestASubjectTemplateIsCheckedWhenParsedAndRendersOneBoundedLine(t *testing.T) {
	g := NewWithT(t)
	s, err := Parse(`{{.User}}: {{lower .Operation}} {{.Resource}} {{.Object}} on {{.Cluster}}`)
	g.Expect(err).NotTo(HaveOccurred())
	out, err := s.Render(Fields{Operation: "CREATE", Resource: "configmaps", Object: "team-a/settings", User: "bob", Cluster: "prod"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(Equal("bob: create configmaps team-a/settings on prod"))

	out, err = s.Render(Fields{Operation: "UPDATE", Resource: "configmaps", Object: "a\nb", User: "eve\r\n[DELETE] everything"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(Equal("eve [DELETE] everything: update configmaps a b on"), "no line breaks: a user's name cannot forge trailers")

	long, err := Parse(`{{.Name}}`)
	g.Expect(err).NotTo(HaveOccurred())
	out, err = long.Render(Fields{Name: strings.Repeat("é", 300)})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(len(out)).To(BeNumerically("<=", MaxSubject))
	g.Expect(strings.ToValidUTF8(out, "?")).To(Equal(out))

	for text, want := range map[string]string{
		`{{.Operation`:        "unclosed action",
		`{{.Kind}}`:           "can't evaluate field Kind",
		`{{upper 3}}`:         "expected string; found 3",
		`{{if .User}}{{end}}`: "renders an empty subject",
		`{{template "x"}}`:    `template "x" not defined`,
		`{{.Name | nosuch}}`:  `function "nosuch" not defined`,
	} {
		_, err := Parse(text)
		g.Expect(err).To(MatchError(ContainSubstring(want)), text)
		g.Expect(err.Error()).To(HavePrefix("commit subject template"), text)
	}

	short, err := Parse(`{{slice .Name 0 3}}`)
	g.Expect(err).NotTo(HaveOccurred(), "the sample's name is long enough")
	_, err = short.Render(Fields{Name: "ab"})
	g.Expect(err).To(HaveOccurred(), "a shorter name: the caller writes its default subject")
}
