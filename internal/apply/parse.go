package apply

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/gitops-reverser/gitops-reverser/internal/secrets"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

// maxManifestBytes bounds one file: a larger one is reported, not parsed.
const maxManifestBytes = 8 << 20

// Manifest is one object read from a file of the folder.
type Manifest struct {
	// File is the file's path in the repository; Document the 0-based YAML document in it.
	File     string
	Document int
	Object   *unstructured.Unstructured
	// Encrypted is set for objects of SOPS files: they are never logged or compared as text.
	Encrypted bool
}

// Where names the manifest for people: `apps/web.yaml` or `apps/all.yaml (document 3)`.
func (m Manifest) Where() string {
	if m.Document == 0 {
		return m.File
	}
	return fmt.Sprintf("%s (document %d)", m.File, m.Document+1)
}

// Problem is a file, or an object of one, that could not be applied, and why.
type Problem struct {
	Where  string
	Reason string // one of the Applied condition's reasons
	Err    error
}

func (p Problem) String() string { return p.Where + ": " + p.Err.Error() }

// ErrDecryption marks files that could not be decrypted.
var ErrDecryption = errors.New("cannot decrypt")

// isManifestFile reports whether a file below the folder is read for manifests: YAML, and not a
// dotfile such as .sops.yaml (sops' own configuration).
func isManifestFile(p string) bool {
	base := path.Base(p)
	return (strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml")) && !strings.HasPrefix(base, ".")
}

// isEncrypted reports whether a file is a SOPS file, by its name as we and sops' docs write them.
func isEncrypted(p string) bool {
	base := path.Base(p)
	return strings.HasSuffix(base, ".sops.yaml") || strings.HasSuffix(base, ".sops.yml")
}

// parseFile reads the objects of one file. A document that is not a Kubernetes object at all
// (no apiVersion, kind or metadata: a values file, a kustomization) is not a manifest and is
// skipped; one that looks like an object but lacks what it needs is a problem. keys decrypt SOPS
// files; nil refuses them.
func parseFile(file string, data []byte, keys *secrets.Keys) ([]Manifest, []Problem) {
	if len(data) > maxManifestBytes {
		return nil, []Problem{{Where: file, Reason: configv1alpha1.ReasonInvalidManifest, Err: fmt.Errorf("the file is %d bytes, more than the %d read", len(data), maxManifestBytes)}}
	}
	encrypted := isEncrypted(file)
	if encrypted {
		if keys == nil || len(keys.Identities) == 0 {
			return nil, []Problem{{Where: file, Reason: configv1alpha1.ReasonDecryptionFailed, Err: fmt.Errorf("%w: the GitTarget has no age identity (spec.encryption.secretRef with a *.agekey entry)", ErrDecryption)}}
		}
		plain, err := secrets.Decrypt(data, *keys)
		if err != nil {
			return nil, []Problem{{Where: file, Reason: configv1alpha1.ReasonDecryptionFailed, Err: fmt.Errorf("%w: %v", ErrDecryption, err)}}
		}
		data = plain
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []Manifest
	var problems []Problem
	for doc := 0; ; doc++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		m := Manifest{File: file, Document: doc, Encrypted: encrypted}
		if err != nil {
			problems = append(problems, Problem{Where: m.Where(), Reason: configv1alpha1.ReasonInvalidManifest, Err: fmt.Errorf("not valid YAML: %w", err)})
			break
		}
		objs, err := decodeDocument(raw)
		if err != nil {
			problems = append(problems, Problem{Where: m.Where(), Reason: configv1alpha1.ReasonInvalidManifest, Err: err})
			continue
		}
		for _, obj := range objs {
			m.Object = obj
			out = append(out, m)
		}
	}
	return out, problems
}

// decodeDocument turns one YAML document into objects: none for an empty document or one that is
// not a Kubernetes object, the items of a List.
func decodeDocument(raw []byte) ([]*unstructured.Unstructured, error) {
	var content map[string]any
	if err := yaml.Unmarshal(raw, &content); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	if len(content) == 0 {
		return nil, nil
	}
	_, hasKind := content["kind"]
	_, hasVersion := content["apiVersion"]
	_, hasMetadata := content["metadata"]
	if !hasKind && !hasVersion && !hasMetadata {
		return nil, nil // a values file, say
	}
	obj := &unstructured.Unstructured{Object: content}
	if obj.IsList() {
		list, err := obj.ToList()
		if err != nil {
			return nil, fmt.Errorf("a List whose items cannot be read: %w", err)
		}
		var out []*unstructured.Unstructured
		for i := range list.Items {
			item := &list.Items[i]
			if err := validObject(item); err != nil {
				return nil, fmt.Errorf("List item %d: %w", i, err)
			}
			out = append(out, item)
		}
		return out, nil
	}
	if !hasMetadata && strings.Contains(obj.GetAPIVersion(), "config.k8s.io") {
		return nil, nil // kustomize's and similar tools' own files
	}
	if err := validObject(obj); err != nil {
		return nil, err
	}
	return []*unstructured.Unstructured{obj}, nil
}

func validObject(obj *unstructured.Unstructured) error {
	switch {
	case obj.GetAPIVersion() == "":
		return errors.New("apiVersion is missing")
	case obj.GetKind() == "":
		return errors.New("kind is missing")
	case obj.GetName() == "" && obj.GetGenerateName() == "":
		return fmt.Errorf("%s has no metadata.name", obj.GetKind())
	case obj.GetName() == "":
		return fmt.Errorf("%s has only metadata.generateName: an applied object needs a name", obj.GetKind())
	}
	return nil
}
