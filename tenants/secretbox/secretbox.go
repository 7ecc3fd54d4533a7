// Package secretbox seals small secrets (a status link's token in a queued mail, a one-time
// password) with the service's secret key, so that they never sit in a table in clear.
// AES-256-GCM with a random nonce; the output is URL-safe base64 prefixed with a version.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a key in bytes.
const KeySize = 32

const version = "v1."

// ErrOpen is returned when a box was not sealed with this key or was altered.
var ErrOpen = errors.New("secretbox: cannot open: wrong key or altered data")

// Box seals and opens with one key.
type Box struct{ aead cipher.AEAD }

// New makes a Box from a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secretbox: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// ParseKey reads a key written as standard or URL-safe base64 (what `openssl rand -base64 32` prints).
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("want %d random bytes in base64", KeySize)
}

// NewKey returns a random key in base64, for `spaces dev` and for operators' first set-up.
func NewKey() string {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

// Seal encrypts plaintext; additional binds it to a context (e.g. "mail") so a box cannot be reused elsewhere.
func (b *Box) Seal(plaintext []byte, additional string) string {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	out := b.aead.Seal(nonce, nonce, plaintext, []byte(additional))
	return version + base64.RawURLEncoding.EncodeToString(out)
}

// Open decrypts what Seal produced with the same key and additional data.
func (b *Box) Open(sealed, additional string) ([]byte, error) {
	raw, ok := strings.CutPrefix(sealed, version)
	if !ok {
		return nil, ErrOpen
	}
	data, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(data) < b.aead.NonceSize() {
		return nil, ErrOpen
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, data[:n], data[n:], []byte(additional))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
