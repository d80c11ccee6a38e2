package fileconfig

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// decodeItem decodes one entry of a list, which must be a mapping: a bare `-` is more likely a
// slip than a rule that matches everything.
func decodeItem(path string, raw json.RawMessage, fields map[string]any) error {
	if string(raw) == "null" {
		return fmt.Errorf("%s: must be a mapping", path)
	}
	return decodeObject(path, raw, fields)
}

// decodeObject decodes a mapping key by key rather than into a struct, so that keys must match
// exactly (encoding/json would fold their case) and every error can name its field.
func decodeObject(path string, raw json.RawMessage, fields map[string]any) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%s: must be a mapping", orTop(path))
	}
	var unknown []string
	for key := range m {
		if _, ok := fields[key]; !ok {
			unknown = append(unknown, strconv.Quote(key))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		noun := "field"
		if len(unknown) > 1 {
			noun = "fields"
		}
		return fmt.Errorf("%s: unknown %s %s", orTop(path), noun, strings.Join(unknown, ", "))
	}
	// In key order, so that a file with two mistakes always reports the same one.
	for _, key := range slices.Sorted(maps.Keys(m)) {
		if err := json.Unmarshal(m[key], fields[key]); err != nil {
			name := key
			if path != "" {
				name = path + "." + key
			}
			return fmt.Errorf("%s: must be %s", name, describe(fields[key]))
		}
	}
	return nil
}

func orTop(path string) string {
	if path == "" {
		return "the file"
	}
	return path
}

func describe(target any) string {
	switch target.(type) {
	case *string:
		return "a string"
	case *[]string:
		return "a list of strings"
	default:
		return "a list"
	}
}

// oneLine flattens YAML errors, which can span lines, so that every error here is one line.
type oneLine struct{ err error }

func (e oneLine) Error() string { return strings.Join(strings.Fields(e.err.Error()), " ") }
func (e oneLine) Unwrap() error { return e.err }
