package secrets

import (
	"fmt"
	"strings"
)

// ConfigFile is the name of the creation rules file written in a target folder.
const ConfigFile = ".sops.yaml"

// CreationRules is the `.sops.yaml` that lets people decrypt, edit and re-encrypt the folder's
// files with the sops CLI: the same recipients and the same encrypted_regex as the operator.
func CreationRules(k Keys) []byte {
	return []byte(fmt.Sprintf(`# Written by gitops-reverser: how the sops CLI encrypts the *.sops.yaml files of this folder.
creation_rules:
  - path_regex: \.sops\.yaml$
    encrypted_regex: %s
    age: %s
`, EncryptedRegex, strings.Join(k.Recipients, ",")))
}
