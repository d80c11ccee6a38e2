// Package commitmsg owns the subject template of change commits: parsing and checking a Go
// text/template from a GitProvider or GitTarget, and rendering it for one change. The trailers
// below the subject are not templated: they are the machine-readable record.
package commitmsg

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"

	"github.com/gitops-reverser/gitops-reverser/internal/oneline"
)

// MaxSubject bounds a rendered subject; `git log --oneline` shows about the first 70 characters.
const MaxSubject = 200

// Fields are what a subject template can use, one change's.
type Fields struct {
	// Operation is CREATE, UPDATE or DELETE.
	Operation string
	// Resource is the plural, with its API group when it has one: configmaps, deployments.apps.
	Resource string
	// Group and Version are the resource's API group ("" for the core group) and version.
	Group, Version string
	// Namespace is empty for a cluster-scoped object.
	Namespace, Name string
	// Object is namespace/name, or the name of a cluster-scoped object.
	Object string
	// User is who made the change, or "unattributed".
	User string
	// Target is the GitTarget; Cluster is the operator's --cluster-name.
	Target, Cluster string
}

// Subject is a parsed subject template.
type Subject struct {
	text string
	t    *template.Template
}

var funcs = template.FuncMap{
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
}

// sample is what Parse renders to catch what parsing alone lets through (a field that does not
// exist, a function applied to the wrong kind of value).
var sample = Fields{
	Operation: "UPDATE", Resource: "deployments.apps", Group: "apps", Version: "v1", Namespace: "team-a",
	Name: "web", Object: "team-a/web", User: "alice", Target: "to-folder", Cluster: "prod",
}

// Parse checks text: it must parse, render for a sample change without an error, and render
// something. The error says what is wrong, for a status condition or an admission refusal.
func Parse(text string) (*Subject, error) {
	t, err := template.New("subject").Funcs(funcs).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("commit subject template: %w", err)
	}
	s := &Subject{text: text, t: t}
	out, err := s.render(sample)
	if err != nil {
		return nil, fmt.Errorf("commit subject template: %w", err)
	}
	if out == "" {
		return nil, fmt.Errorf("commit subject template %q renders an empty subject", text)
	}
	return s, nil
}

// Text is the template as written.
func (s *Subject) Text() string { return s.text }

// Render is the subject for one change: one line of at most MaxSubject bytes. It fails only for
// what the sample of Parse could not show (`slice .Name 0 5` of a shorter name); the caller then
// writes its default subject.
func (s *Subject) Render(f Fields) (string, error) {
	out, err := s.render(f)
	if err == nil && out == "" {
		err = fmt.Errorf("commit subject template %q rendered an empty subject for %s %s", s.text, f.Resource, f.Object)
	}
	return out, err
}

func (s *Subject) render(f Fields) (string, error) {
	var b bytes.Buffer
	if err := s.t.Execute(&b, f); err != nil {
		return "", err
	}
	return strings.TrimSpace(oneline.Cut(oneline.Squeeze(b.String()), MaxSubject, "")), nil
}
