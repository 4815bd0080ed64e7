package delivery

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks header names.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every signing secret; the rest is the base64 key.
const SecretPrefix = "whsec_"

// DefaultTolerance is how far a webhook-timestamp may be from now in Verify
// when the caller passes a zero tolerance.
const DefaultTolerance = 5 * time.Minute

// Verification errors, for errors.Is.
var (
	ErrMissingHeaders      = errors.New("missing webhook-id, webhook-timestamp or webhook-signature header")
	ErrInvalidTimestamp    = errors.New("webhook-timestamp is not unix seconds")
	ErrTimestampOutOfRange = errors.New("webhook-timestamp outside the tolerance")
	ErrNoMatchingSignature = errors.New("no matching v1 signature")
	ErrInvalidSecret       = errors.New("invalid signing secret")
)

// NewSecret returns a fresh signing secret: "whsec_" + base64 of 24 random bytes.
func NewSecret() string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand never fails on supported platforms; a zero key would be worse than a crash.
		panic(fmt.Sprintf("delivery: reading random bytes: %v", err))
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// decodeSecret returns the HMAC key of a "whsec_..." secret. The prefix is
// optional so that keys copied without it still work.
func decodeSecret(secret string) ([]byte, error) {
	raw := strings.TrimPrefix(secret, SecretPrefix)
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64 after %q: %v", ErrInvalidSecret, SecretPrefix, err)
	}
	if len(key) < 16 {
		return nil, fmt.Errorf("%w: key is %d bytes, want at least 16", ErrInvalidSecret, len(key))
	}
	return key, nil
}

// Sign returns the Standard Webhooks signature "v1,<base64 HMAC-SHA256>" of
// "id.timestamp.body", keyed with the decoded secret.
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	return signKey(key, id, ts.Unix(), body), nil
}

func signKey(key []byte, id string, unix int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, unix, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// signAll returns the webhook-signature header value: one "v1,..." entry per
// key, space-separated, so receivers accept the message during a rotation
// whichever secret they hold.
func signAll(keys [][]byte, id string, unix int64, body []byte) string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(signKey(k, id, unix, body))
	}
	return b.String()
}

// Verify checks a received webhook against any of secrets, as a receiver
// would. The timestamp must be within tolerance of now; a zero tolerance means
// DefaultTolerance and a negative one skips the check (for replaying a log).
func Verify(secrets []string, headers http.Header, body []byte, tolerance time.Duration) error {
	id := headers.Get(HeaderID)
	tsHeader := headers.Get(HeaderTimestamp)
	sigHeader := headers.Get(HeaderSignature)
	if id == "" || tsHeader == "" || sigHeader == "" {
		return ErrMissingHeaders
	}
	unix, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrInvalidTimestamp, tsHeader)
	}
	if tolerance == 0 {
		tolerance = DefaultTolerance
	}
	if tolerance > 0 {
		skew := time.Since(time.Unix(unix, 0))
		if skew > tolerance || skew < -tolerance {
			return fmt.Errorf("%w: %s off", ErrTimestampOutOfRange, skew.Round(time.Second))
		}
	}
	for i, s := range secrets {
		key, err := decodeSecret(s)
		if err != nil {
			return fmt.Errorf("secrets[%d]: %w", i, err)
		}
		want := signKey(key, id, unix, body)
		for _, got := range strings.Fields(sigHeader) {
			if hmac.Equal([]byte(got), []byte(want)) {
				return nil
			}
		}
	}
	return ErrNoMatchingSignature
}
