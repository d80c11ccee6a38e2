package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A SOPS value is `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`: AES-256-GCM with a 32-byte nonce,
// the path of keys to the value (`a:b:c:`) as additional data, so a value moved elsewhere does
// not open, and the plaintext's type, so an int decrypts to an int.
const (
	valuePrefix = "ENC[AES256_GCM,data:"
	nonceSize   = 32
	tagSize     = 16
)

// valueCipher encrypts and decrypts the values of one file with its data key.
type valueCipher struct {
	aead cipher.AEAD
}

func newValueCipher(dataKey []byte) (valueCipher, error) {
	if len(dataKey) != 32 {
		return valueCipher{}, fmt.Errorf("the data key has %d bytes, not 32", len(dataKey))
	}
	block, err := aes.NewCipher(dataKey)
	if err != nil {
		return valueCipher{}, fmt.Errorf("the data key: %w", err)
	}
	aead, err := cipher.NewGCMWithNonceSize(block, nonceSize)
	if err != nil {
		return valueCipher{}, fmt.Errorf("the data key: %w", err)
	}
	return valueCipher{aead: aead}, nil
}

// additionalData is the path a value is authenticated with.
func additionalData(path []string) string {
	return strings.Join(path, ":") + ":"
}

// comment is an encrypted comment. The sops CLI writes the comments inside a list it encrypts as
// list items of this type; they are not part of the MAC, and Decrypt drops them like any comment.
type comment string

// typed is a plaintext as SOPS encrypts and MACs it: its type name and its bytes.
func typed(v any) (typ string, plain []byte, err error) {
	switch v := v.(type) {
	case string:
		return "str", []byte(v), nil
	case int:
		return "int", []byte(strconv.Itoa(v)), nil
	case float64:
		return "float", []byte(strconv.FormatFloat(v, 'f', -1, 64)), nil
	case bool:
		if v {
			return "bool", []byte("True"), nil
		}
		return "bool", []byte("False"), nil
	case time.Time:
		b, err := v.MarshalText()
		if err != nil {
			return "", nil, fmt.Errorf("timestamp %v: %w", v, err)
		}
		return "time", b, nil
	}
	return "", nil, fmt.Errorf("a %T cannot be encrypted", v)
}

// seal encrypts plain with a fresh nonce. An empty string stays empty, as sops leaves it.
func (c valueCipher) seal(typ string, plain []byte, aad string) (string, error) {
	if typ == "str" && len(plain) == 0 {
		return "", nil
	}
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("generating a nonce: %w", err)
	}
	out := c.aead.Seal(nil, nonce, plain, []byte(aad))
	enc := base64.StdEncoding
	return valuePrefix + enc.EncodeToString(out[:len(out)-tagSize]) +
		",iv:" + enc.EncodeToString(nonce) +
		",tag:" + enc.EncodeToString(out[len(out)-tagSize:]) +
		",type:" + typ + "]", nil
}

// open decrypts an encrypted value into the type it was encrypted from.
func (c valueCipher) open(s, aad string) (any, error) {
	if s == "" {
		return "", nil
	}
	data, nonce, tag, typ, err := parseValue(s)
	if err != nil {
		return nil, err
	}
	if len(nonce) != nonceSize {
		return nil, fmt.Errorf("the value's nonce has %d bytes, not %d", len(nonce), nonceSize)
	}
	plain, err := c.aead.Open(nil, nonce, append(data, tag...), []byte(aad))
	if err != nil {
		return nil, errors.New("the value does not decrypt with the data key (changed, or moved from another key)")
	}
	return untyped(typ, plain)
}

func parseValue(s string) (data, nonce, tag []byte, typ string, err error) {
	rest, ok := strings.CutPrefix(s, valuePrefix)
	if !ok || !strings.HasSuffix(rest, "]") {
		return nil, nil, nil, "", errors.New("not a SOPS-encrypted value")
	}
	rest = strings.TrimSuffix(rest, "]")
	d, rest, ok1 := strings.Cut(rest, ",iv:")
	iv, rest, ok2 := strings.Cut(rest, ",tag:")
	t, typ, ok3 := strings.Cut(rest, ",type:")
	if !ok1 || !ok2 || !ok3 {
		return nil, nil, nil, "", errors.New("not a SOPS-encrypted value")
	}
	enc := base64.StdEncoding
	if data, err = enc.DecodeString(d); err != nil {
		return nil, nil, nil, "", fmt.Errorf("the value's data: %w", err)
	}
	if nonce, err = enc.DecodeString(iv); err != nil {
		return nil, nil, nil, "", fmt.Errorf("the value's iv: %w", err)
	}
	if tag, err = enc.DecodeString(t); err != nil {
		return nil, nil, nil, "", fmt.Errorf("the value's tag: %w", err)
	}
	if len(tag) != tagSize {
		return nil, nil, nil, "", fmt.Errorf("the value's tag has %d bytes, not %d", len(tag), tagSize)
	}
	return data, nonce, tag, typ, nil
}

func untyped(typ string, plain []byte) (any, error) {
	s := string(plain)
	switch typ {
	case "str", "bytes":
		return s, nil
	case "int":
		return strconv.Atoi(s)
	case "float":
		return strconv.ParseFloat(s, 64)
	case "bool":
		return strconv.ParseBool(s)
	case "time":
		var t time.Time
		err := t.UnmarshalText(plain)
		return t, err
	case "comment":
		return comment(s), nil
	}
	return nil, fmt.Errorf("unknown value type %q", typ)
}
