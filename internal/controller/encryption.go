package controller

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"filippo.io/age"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/secrets"
)

// Annotations of the Secret that holds a generated age key, as the seed names them.
const (
	annotationAgeRecipient  = "configbutler.ai/age-recipient"
	annotationBackupWarning = "configbutler.ai/backup-warning"
	backupWarningValue      = "REMOVE_AFTER_BACKUP"
)

// backupReminder is how often a key that is not backed up is brought up again.
const backupReminder = 5 * time.Minute

// encryption is what a GitTarget's encryption settings came to.
type encryption struct {
	keys *secrets.Keys // nil: sensitive changes are held
	// notBackedUp is set while the key Secret carries the backup-warning annotation.
	notBackedUp bool
	secretName  string
	generated   string // the entry generated during this reconcile, if any
}

// encryptionOf reads the target's age keys, generating one when asked and none exists. A
// target without age encryption gets no keys and no error: its sensitive changes are held.
func (r *GitTargetReconciler) encryptionOf(ctx context.Context, target *configv1alpha1.GitTarget) (encryption, *stepError) {
	spec := target.Spec.Encryption
	if spec == nil || spec.Age == nil || !spec.Age.Enabled {
		return encryption{}, nil
	}
	rec := spec.Age.Recipients
	var identities []*age.X25519Identity
	var out encryption
	if spec.SecretRef != nil && (rec.ExtractFromSecret || rec.GenerateWhenMissing) {
		out.secretName = spec.SecretRef.Name
		secret := &corev1.Secret{}
		err := r.Reader.Get(ctx, client.ObjectKey{Namespace: target.Namespace, Name: spec.SecretRef.Name}, secret)
		switch {
		case apierrors.IsNotFound(err):
			secret = nil
		case err != nil:
			return out, failed(configv1alpha1.ReasonProgressing, "reading Secret %s: %w", spec.SecretRef.Name, err)
		}
		if secret != nil {
			ids, serr := agekeysOf(secret)
			if serr != nil {
				return out, serr
			}
			identities = ids
		}
		if len(identities) == 0 && rec.GenerateWhenMissing {
			id, generated, serr := r.generateKey(ctx, target, secret)
			if serr != nil {
				return out, serr
			}
			identities, out.generated, secret = []*age.X25519Identity{id}, generated.Entry, generated.secret
		}
		if secret != nil {
			_, out.notBackedUp = secret.Annotations[annotationBackupWarning]
		}
		if len(identities) == 0 && rec.ExtractFromSecret && len(rec.PublicKeys) == 0 {
			return out, failed(configv1alpha1.ReasonEncryptionNotReady, "Secret %s has no *%s entry to take recipients from", spec.SecretRef.Name, secrets.AgeKeySuffix)
		}
	}
	keys, err := secrets.NewKeys(rec.PublicKeys, identities, rec.ExtractFromSecret || rec.GenerateWhenMissing)
	if err != nil {
		return out, failed(configv1alpha1.ReasonEncryptionNotReady, "%w", err)
	}
	if len(keys.Recipients) == 0 {
		return out, failed(configv1alpha1.ReasonEncryptionNotReady, "no age recipients: list age.recipients.publicKeys or set extractFromSecret")
	}
	out.keys = &keys
	return out, nil
}

// agekeysOf parses every `*.agekey` entry of the Secret. Errors name the entry, never its content.
func agekeysOf(secret *corev1.Secret) ([]*age.X25519Identity, *stepError) {
	names := make([]string, 0, len(secret.Data))
	for name := range secret.Data {
		if strings.HasSuffix(name, secrets.AgeKeySuffix) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var out []*age.X25519Identity
	for _, name := range names {
		ids, err := secrets.ParseIdentities(secret.Data[name])
		if err != nil {
			return nil, failed(configv1alpha1.ReasonEncryptionNotReady, "entry %s of Secret %s is not an age private key", name, secret.Name)
		}
		out = append(out, ids...)
	}
	return out, nil
}

type generatedKey struct {
	secrets.GeneratedKey
	secret *corev1.Secret
}

// generateKey adds a new age key to the Secret (creating it when missing), annotated with its
// public key and with the warning that it must be backed up.
func (r *GitTargetReconciler) generateKey(ctx context.Context, target *configv1alpha1.GitTarget, secret *corev1.Secret) (*age.X25519Identity, generatedKey, *stepError) {
	key, err := secrets.Generate(time.Now())
	if err != nil {
		return nil, generatedKey{}, failed(configv1alpha1.ReasonEncryptionNotReady, "%w", err)
	}
	ids, err := secrets.ParseIdentities(key.Content)
	if err != nil {
		return nil, generatedKey{}, failed(configv1alpha1.ReasonEncryptionNotReady, "%w", err)
	}
	name := target.Spec.Encryption.SecretRef.Name
	create := secret == nil
	if create {
		secret = &corev1.Secret{}
		secret.Namespace, secret.Name = target.Namespace, name
		secret.Type = corev1.SecretTypeOpaque
	}
	if secret.Data == nil {
		secret.Data = map[string][]byte{}
	}
	if secret.Annotations == nil {
		secret.Annotations = map[string]string{}
	}
	secret.Data[key.Entry] = key.Content
	secret.Annotations[annotationAgeRecipient] = key.Recipient
	secret.Annotations[annotationBackupWarning] = backupWarningValue
	if create {
		err = r.Client.Create(ctx, secret)
	} else {
		err = r.Client.Update(ctx, secret)
	}
	if err != nil {
		return nil, generatedKey{}, failed(configv1alpha1.ReasonProgressing, "storing the generated age key in Secret %s: %w", name, err)
	}
	return ids[0], generatedKey{GeneratedKey: key, secret: secret}, nil
}

// backupMessage is the recurring warning about a key that exists only in the cluster.
func backupMessage(secretName string) string {
	return fmt.Sprintf("the age key in Secret %s is not backed up: copy its *%s entry somewhere safe (without it the encrypted files cannot be decrypted), then run `kubectl annotate secret %s %s-`",
		secretName, secrets.AgeKeySuffix, secretName, annotationBackupWarning)
}
