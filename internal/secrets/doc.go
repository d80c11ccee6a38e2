// Package secrets owns encrypting sensitive manifests before they reach Git: SOPS files
// (`<name>.sops.yaml`, the sops CLI's own format) whose `data` and `stringData` are encrypted to
// age recipients, in process with the sops and age Go libraries; the age keys (parsing, extracting
// recipients from `*.agekey` entries, generating one); and the `.sops.yaml` creation rules that let
// people decrypt and edit with the sops CLI.
//
// Recipients are validated as age X25519 keys before sops sees them: sops would hand any other
// `age1…` string with a plugin name to an `age-plugin-*` binary. Decryption uses identities given
// in process only; nothing is read from the environment or the filesystem.
//
// Diffs stay quiet: Encrypt, given the file it replaces and an identity that opens it, returns that
// file unchanged when the plaintext is the same, and otherwise keeps the data key, the recipients'
// stanzas and the ciphertext of every value that did not change, so a commit shows the values that
// changed, the MAC and the timestamp.
package secrets
