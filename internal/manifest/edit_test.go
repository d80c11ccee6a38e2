package manifest

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/gitops-reverser/gitops-reverser/internal/fields"
)

const appFile = `# the app, as the team keeps it
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: "fast"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web # the front end
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: sidecar
        image: proxy:1
      - name: app
        image: "app:1" # bumped by the image updater
        args: ["--port", "80"]
`

func TestEditDocumentChangesOnlyTheLinesOfTheFields(t *testing.T) {
	g := NewWithT(t)
	docs := Documents([]byte(appFile))
	g.Expect(docs).To(HaveLen(2))
	g.Expect(docs[1].Index).To(Equal(2))
	g.Expect(docs[1].Object["kind"]).To(Equal("Deployment"))

	containers := fields.Path{fields.FieldElement("spec"), fields.FieldElement("template"), fields.FieldElement("spec"), fields.FieldElement("containers")}
	image := append(containers.Append(fields.KeyElement("name", "app")), fields.FieldElement("image"))
	out, err := EditDocument([]byte(appFile), docs[1], []FieldChange{{Path: image, Value: "app:2"}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(diffLines(appFile, string(out))).To(Equal([]string{
		`-        image: "app:1" # bumped by the image updater`,
		`+        image: "app:2" # bumped by the image updater`,
	}))

	// Added and removed fields, and a container Git did not have.
	replicas := fields.Path{fields.FieldElement("spec"), fields.FieldElement("replicas")}
	annotation := fields.Path{fields.FieldElement("metadata"), fields.FieldElement("annotations"), fields.FieldElement("example.com/owner")}
	added := append(containers.Append(fields.KeyElement("name", "new")), fields.FieldElement("image"))
	out, err = EditDocument([]byte(appFile), docs[1], []FieldChange{
		{Path: replicas, Remove: true}, {Path: annotation, Value: "team-a"}, {Path: added, Value: "new:1"},
	})
	g.Expect(err).NotTo(HaveOccurred())
	after := Documents(out)
	g.Expect(after[0].Object).To(Equal(docs[0].Object))
	g.Expect(after[1].Object["spec"]).NotTo(HaveKey("replicas"))
	g.Expect(after[1].Object["metadata"]).To(HaveKeyWithValue("annotations", map[string]any{"example.com/owner": "team-a"}))
	g.Expect(string(out)).To(ContainSubstring("      - name: new\n        image: new:1\n"))
	g.Expect(string(out)).To(HavePrefix(appFile[:strings.Index(appFile, "---")+4]), "the first document is untouched")

	// Removing the last annotation removes the map, as the object's own copy does.
	out, err = EditDocument(out, Documents(out)[1], []FieldChange{{Path: annotation, Remove: true}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(out)).NotTo(ContainSubstring("annotations"))
}

// diffLines is a naive line diff of two texts of the same number of lines.
func diffLines(a, b string) []string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, "-"+x, "+"+y)
		}
	}
	return out
}
