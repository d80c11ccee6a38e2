package secrets

import (
	"reflect"

	"github.com/getsops/sops/v3"
)

func mustEmitPlain(b sops.TreeBranches) []byte {
	out, err := store().EmitPlainFile(b)
	if err != nil {
		return nil // never equal to anything: the caller re-encrypts
	}
	return out
}

func branchesOf(plain []byte) sops.TreeBranches {
	b, err := store().LoadPlainFile(plain)
	if err != nil {
		return nil
	}
	return b
}

// keepUnchanged puts the old ciphertext back wherever the plaintext did not change: SOPS encrypts
// every value with a fresh IV, which would make every value of a file change in every commit.
// The old ciphertext stays valid: it was made with the same data key for the same path.
func keepUnchanged(encNew, plainNew, encOld, plainOld sops.TreeBranches) {
	for i := range encNew {
		if i < len(plainNew) && i < len(encOld) && i < len(plainOld) {
			keepBranch(encNew[i], plainNew[i], encOld[i], plainOld[i])
		}
	}
}

func keepBranch(encNew, plainNew, encOld, plainOld sops.TreeBranch) {
	for j := range encNew {
		if j >= len(plainNew) {
			return
		}
		k := -1
		for n, item := range plainOld {
			if reflect.DeepEqual(item.Key, plainNew[j].Key) {
				k = n
				break
			}
		}
		if k < 0 || k >= len(encOld) {
			continue
		}
		encNew[j].Value = keepValue(encNew[j].Value, plainNew[j].Value, encOld[k].Value, plainOld[k].Value)
	}
}

func keepValue(encNew, plainNew, encOld, plainOld any) any {
	switch pn := plainNew.(type) {
	case sops.TreeBranch:
		en, ok1 := encNew.(sops.TreeBranch)
		eo, ok2 := encOld.(sops.TreeBranch)
		po, ok3 := plainOld.(sops.TreeBranch)
		if ok1 && ok2 && ok3 {
			keepBranch(en, pn, eo, po)
		}
		return encNew
	case []any:
		en, ok1 := encNew.([]any)
		eo, ok2 := encOld.([]any)
		po, ok3 := plainOld.([]any)
		if ok1 && ok2 && ok3 && len(en) == len(pn) {
			for i := range en {
				if i < len(eo) && i < len(po) {
					en[i] = keepValue(en[i], pn[i], eo[i], po[i])
				}
			}
		}
		return encNew
	default:
		if reflect.DeepEqual(plainNew, plainOld) {
			return encOld
		}
		return encNew
	}
}
