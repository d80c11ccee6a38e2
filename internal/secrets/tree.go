package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"go.yaml.in/yaml/v3"
)

// metadataKey is the top-level key of every document of a SOPS file that holds how it was
// encrypted.
const metadataKey = "sops"

// indent is kubectl's: two spaces, which is what the sops CLI writes with our `.sops.yaml`.
const indent = 2

// item is one key of a mapping and its value: a branch, a []any, or a scalar (string, int,
// float64, bool, time.Time or nil), the values SOPS encrypts and authenticates.
type item struct {
	key   string
	value any
}

// branch is a mapping in document order. Order matters: the MAC is over the values in the
// order they are written.
type branch []item

// readDocuments reads every YAML document of in. Each must be a mapping with string keys, with no
// aliases (SOPS files never have them: the sops CLI writes them expanded) and no key twice.
// Comments are not kept.
func readDocuments(in []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(in))
	var docs []*yaml.Node
	for {
		doc := &yaml.Node{}
		err := dec.Decode(doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading YAML: %w", err)
		}
		docs = append(docs, doc)
	}
}

func documentBranches(nodes []*yaml.Node) ([]branch, error) {
	docs := make([]branch, 0, len(nodes))
	for _, n := range nodes {
		b, err := documentBranch(n)
		if err != nil {
			return nil, err
		}
		docs = append(docs, b)
	}
	return docs, nil
}

// documentBranch is a document's mapping; an empty document is an empty mapping.
func documentBranch(doc *yaml.Node) (branch, error) {
	if len(doc.Content) == 0 {
		return branch{}, nil
	}
	root := doc.Content[0]
	switch {
	case root.Kind == yaml.MappingNode:
		return mappingBranch(root)
	case root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null":
		return branch{}, nil
	default:
		return nil, fmt.Errorf("line %d: a document must be a mapping", root.Line)
	}
}

func mappingBranch(n *yaml.Node) (branch, error) {
	b := make(branch, 0, len(n.Content)/2)
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key, err := keyOf(k)
		if err != nil {
			return nil, err
		}
		if seen[key] {
			return nil, fmt.Errorf("line %d: key %q appears twice", k.Line, key)
		}
		seen[key] = true
		value, err := nodeValue(v)
		if err != nil {
			return nil, err
		}
		b = append(b, item{key: key, value: value})
	}
	return b, nil
}

func keyOf(k *yaml.Node) (string, error) {
	if k.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("line %d: a key must be a string", k.Line)
	}
	var key any
	if err := k.Decode(&key); err != nil {
		return "", fmt.Errorf("line %d: %w", k.Line, err)
	}
	s, ok := key.(string)
	if !ok {
		return "", fmt.Errorf("line %d: key %q is a %T, not a string", k.Line, k.Value, key)
	}
	return s, nil
}

func nodeValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.MappingNode:
		return mappingBranch(n)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeValue(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		// Decoding into an interface is what decides a scalar's type for the sops CLI too, so both
		// see the same type and MAC the same bytes.
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		switch v.(type) {
		case nil, string, int, float64, bool, time.Time:
			return v, nil
		}
		return nil, fmt.Errorf("line %d: %q is a %T, which SOPS cannot encrypt", n.Line, n.Value, v)
	case yaml.AliasNode:
		return nil, fmt.Errorf("line %d: YAML aliases are not allowed in a SOPS file", n.Line)
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

// writeDocuments writes docs as YAML the way the sops CLI does: every scalar written from its
// value (not kept in its original style), two-space indents.
func writeDocuments(docs []branch) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(indent)
	for _, d := range docs {
		root, err := branchNode(d)
		if err != nil {
			return nil, err
		}
		if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}); err != nil {
			return nil, fmt.Errorf("writing YAML: %w", err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("writing YAML: %w", err)
	}
	return buf.Bytes(), nil
}

func branchNode(b branch) (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.MappingNode, Content: make([]*yaml.Node, 0, 2*len(b))}
	for _, it := range b {
		k := &yaml.Node{}
		if err := k.Encode(it.key); err != nil {
			return nil, fmt.Errorf("writing key %q: %w", it.key, err)
		}
		v, err := valueNode(it.value)
		if err != nil {
			return nil, fmt.Errorf("writing %q: %w", it.key, err)
		}
		n.Content = append(n.Content, k, v)
	}
	return n, nil
}

func valueNode(v any) (*yaml.Node, error) {
	switch v := v.(type) {
	case branch:
		return branchNode(v)
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Content: make([]*yaml.Node, 0, len(v))}
		for _, e := range v {
			c, err := valueNode(e)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, c)
		}
		return n, nil
	default:
		n := &yaml.Node{}
		if err := n.Encode(v); err != nil {
			return nil, err
		}
		return n, nil
	}
}

// walk calls leaf for every scalar below b except nulls, in document order, with the keys that
// lead to it (a list adds none), and puts what leaf returns in its place; a comment it returns
// for a list item takes the item out.
func walk(b branch, path []string, leaf func(v any, path []string) (any, error)) error {
	for i := range b {
		p := append(path[:len(path):len(path)], b[i].key)
		v, err := walkValue(b[i].value, p, leaf)
		if err != nil {
			return err
		}
		if _, ok := v.(comment); ok {
			return fmt.Errorf("the value at %s is a comment", additionalData(p))
		}
		b[i].value = v
	}
	return nil
}

func walkValue(v any, path []string, leaf func(v any, path []string) (any, error)) (any, error) {
	switch x := v.(type) {
	case branch:
		return x, walk(x, path, leaf)
	case []any:
		out := x[:0]
		for i := range x {
			e, err := walkValue(x[i], path, leaf)
			if err != nil {
				return nil, err
			}
			if _, ok := e.(comment); !ok {
				out = append(out, e)
			}
		}
		return out, nil
	case nil:
		return nil, nil
	default:
		return leaf(x, path)
	}
}
