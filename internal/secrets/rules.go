package secrets

import (
	"fmt"
	"strings"
)

// ConfigFile is the name of the creation rules file written in a target folder.
const ConfigFile = ".sops.yaml"

// CreationRules is the `.sops.yaml` that lets people decrypt, edit and re-encrypt the folder's
// files with the sops CLI: the same recipients, the same encrypted_regex and the same two-space
// indent as the operator, so a file a person edits and one the operator writes differ only
// where their values do.
func CreationRules(k Keys) []byte {
	return []byte(fmt.Sprintf(`# Written by gitops-reverser: how the sops CLI encrypts the *.sops.yaml files of this folder.
creation_rules:
  - path_regex: \.sops\.yaml$
    encrypted_regex: %s
    age: %s
stores:
  yaml:
    indent: %d
`, EncryptedRegex, strings.Join(k.Recipients, ","), indent))
}
