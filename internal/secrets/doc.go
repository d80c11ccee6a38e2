// Package secrets owns encrypting sensitive manifests before they reach Git: SOPS files
// (`<name>.sops.yaml`, the sops CLI's own format) whose `data` and `stringData` are encrypted to
// age recipients; the age keys (parsing, extracting recipients from `*.agekey` entries,
// generating one); and the `.sops.yaml` creation rules that let people decrypt and edit with the
// sops CLI.
//
// The SOPS format for age is ours (tree.go, values.go, metadata.go): a random data key encrypted
// to each age X25519 recipient (armored), every selected value AES-256-GCM-encrypted with the
// path of keys as additional data, a SHA-512 MAC over the values encrypted with the data key and
// the timestamp, and the `sops` metadata block, laid out line for line as the sops CLI writes it.
// The sops library is the tests' reference (every file we write opens with it and with the sops
// CLI, every file it writes opens with ours, fuzzed); the operator does not link it, because its
// root package imports every cloud KMS client. We read files the sops CLI writes with any of its
// path rules (unencrypted_suffix, encrypted_suffix, unencrypted_regex, encrypted_regex,
// mac_only_encrypted) and refuse, saying so, the parts we do not do: comment rules, data keys
// split among several key groups, YAML aliases, and keys other than age.
//
// Recipients are validated as age X25519 keys. Decryption uses identities given in process only;
// nothing is read from the environment or the filesystem.
//
// Diffs stay quiet: Encrypt, given the file it replaces and an identity that opens it, returns that
// file unchanged when the plaintext is the same, and otherwise keeps the data key, the recipients'
// stanzas and the ciphertext of every value that did not change, so a commit shows the values that
// changed, the MAC and the timestamp.
package secrets
