package manifest

import (
	"bytes"
	"fmt"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"

	"github.com/gitops-reverser/gitops-reverser/internal/fields"
)

// FieldChange is one field to change in a file: set to Value, or removed.
type FieldChange struct {
	Path   fields.Path
	Value  any
	Remove bool
}

// Document is one YAML document of a file, with where it is.
type Document struct {
	// Index counts documents from 1, empty ones included.
	Index  int
	Object map[string]any
	start  int
	end    int
}

// Documents splits a file into its documents (separated by lines that start with ---), decoded.
// Documents that do not decode as an object are left out.
func Documents(data []byte) []Document {
	var out []Document
	for i, seg := range segments(data) {
		var obj map[string]any
		if err := yaml.Unmarshal(data[seg[0]:seg[1]], &obj); err != nil || len(obj) == 0 {
			continue
		}
		out = append(out, Document{Index: i + 1, Object: obj, start: seg[0], end: seg[1]})
	}
	return out
}

// segments are the byte ranges of a file's documents, separators excluded.
func segments(data []byte) [][2]int {
	var out [][2]int
	start := 0
	for pos := 0; pos < len(data); {
		end := bytes.IndexByte(data[pos:], '\n')
		lineEnd := len(data)
		if end >= 0 {
			lineEnd = pos + end + 1
		}
		line := data[pos:lineEnd]
		if bytes.HasPrefix(line, []byte("---")) && (len(line) == 3 || line[3] == '\n' || line[3] == '\r' || line[3] == ' ' || line[3] == '\t') {
			if pos > start || len(out) > 0 {
				out = append(out, [2]int{start, pos})
			}
			start = lineEnd
		}
		pos = lineEnd
	}
	return append(out, [2]int{start, len(data)})
}

// EditDocument changes fields of one document of a file in place: comments, key order and the
// bytes of every other document are kept, and only the edited document is encoded again (by
// kyaml, with the file's own sequence indentation).
func EditDocument(data []byte, doc Document, changes []FieldChange) ([]byte, error) {
	original := string(data[doc.start:doc.end])
	node, err := kyaml.Parse(original)
	if err != nil {
		return nil, fmt.Errorf("document %d: %w", doc.Index, err)
	}
	for _, c := range changes {
		if c.Remove {
			removeNode(node.YNode(), c.Path)
			continue
		}
		if err := setNode(node.YNode(), c.Path, c.Value); err != nil {
			return nil, fmt.Errorf("document %d: field %s: %w", doc.Index, c.Path, err)
		}
	}
	style := kyaml.SequenceIndentStyle(kyaml.DeriveSeqIndentStyle(original))
	edited, err := kyaml.MarshalWithOptions(node.Document(), &kyaml.EncoderOptions{SeqIndent: style})
	if err != nil {
		return nil, fmt.Errorf("document %d: %w", doc.Index, err)
	}
	out := make([]byte, 0, len(data)+len(edited))
	out = append(out, data[:doc.start]...)
	out = append(out, edited...)
	return append(out, data[doc.end:]...), nil
}

// childNode finds e below n, or nil.
func childNode(n *kyaml.Node, e fields.Element) (*kyaml.Node, int) {
	switch {
	case e.Field != "":
		if n.Kind != kyaml.MappingNode {
			return nil, -1
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == e.Field {
				return n.Content[i+1], i
			}
		}
	case e.KeyField != "":
		if n.Kind != kyaml.SequenceNode {
			return nil, -1
		}
		for i, el := range n.Content {
			if k, _ := childNode(el, fields.FieldElement(e.KeyField)); k != nil && k.Kind == kyaml.ScalarNode && k.Value == e.Key {
				return el, i
			}
		}
	default:
		if n.Kind == kyaml.SequenceNode && e.Index < len(n.Content) {
			return n.Content[e.Index], e.Index
		}
	}
	return nil, -1
}

func setNode(n *kyaml.Node, path fields.Path, value any) error {
	for i, e := range path {
		last := i == len(path)-1
		next, _ := childNode(n, e)
		if last {
			v, err := valueNode(value)
			if err != nil {
				return err
			}
			if next != nil {
				keepLook(v, next)
				*next = *v
				return nil
			}
			if e.Field == "" || n.Kind != kyaml.MappingNode {
				return fmt.Errorf("cannot add %s here", path)
			}
			n.Content = append(n.Content, &kyaml.Node{Kind: kyaml.ScalarNode, Tag: "!!str", Value: e.Field}, v)
			return nil
		}
		if next == nil {
			switch {
			case e.Field != "" && n.Kind == kyaml.MappingNode:
				next = &kyaml.Node{Kind: kyaml.MappingNode, Tag: "!!map"}
				if path[i+1].Field == "" {
					next = &kyaml.Node{Kind: kyaml.SequenceNode, Tag: "!!seq"}
				}
				n.Content = append(n.Content, &kyaml.Node{Kind: kyaml.ScalarNode, Tag: "!!str", Value: e.Field}, next)
			case e.KeyField != "" && n.Kind == kyaml.SequenceNode:
				next = &kyaml.Node{Kind: kyaml.MappingNode, Tag: "!!map", Content: []*kyaml.Node{
					{Kind: kyaml.ScalarNode, Tag: "!!str", Value: e.KeyField}, {Kind: kyaml.ScalarNode, Tag: "!!str", Value: e.Key},
				}}
				n.Content = append(n.Content, next)
			default:
				return fmt.Errorf("%s does not exist", path[:i+1])
			}
		}
		n = next
	}
	return nil
}

// keepLook carries a replaced scalar's comments and quoting over to its new value.
func keepLook(v, old *kyaml.Node) {
	v.HeadComment, v.LineComment, v.FootComment = old.HeadComment, old.LineComment, old.FootComment
	if v.Kind == kyaml.ScalarNode && old.Kind == kyaml.ScalarNode && v.Tag == "!!str" && old.Tag == "!!str" &&
		(old.Style == kyaml.DoubleQuotedStyle || old.Style == kyaml.SingleQuotedStyle) {
		v.Style = old.Style
	}
}

func valueNode(value any) (*kyaml.Node, error) {
	data, err := yaml.Marshal(value)
	if err != nil {
		return nil, err
	}
	var doc kyaml.Node
	if err := kyaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == kyaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0], nil
	}
	return &doc, nil
}

func removeNode(n *kyaml.Node, path fields.Path) {
	if len(path) == 0 {
		return
	}
	parents := []*kyaml.Node{n}
	for _, e := range path[:len(path)-1] {
		next, _ := childNode(n, e)
		if next == nil {
			return
		}
		parents = append(parents, next)
		n = next
	}
	last := path[len(path)-1]
	_, at := childNode(n, last)
	if at < 0 {
		return
	}
	if last.Field != "" {
		n.Content = append(n.Content[:at], n.Content[at+2:]...)
	} else {
		n.Content = append(n.Content[:at], n.Content[at+1:]...)
	}
	// Maps emptied by the removal go too, as the object's own copy loses them.
	for i := len(parents) - 1; i > 0; i-- {
		if parents[i].Kind != kyaml.MappingNode || len(parents[i].Content) > 0 || path[i-1].Field == "" {
			return
		}
		removeNode(parents[0], path[:i])
		return
	}
}
