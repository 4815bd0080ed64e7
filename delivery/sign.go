package delivery

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
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
//
// A secret that is not base64 is refused by what was given: the part after
// the prefix when it has it, the whole secret when it has not (a prefix
// the user did not write is not named as where the problem is).
func decodeSecret(secret string) ([]byte, error) {
	raw, prefixed := strings.CutPrefix(secret, SecretPrefix)
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		where := ""
		var at base64.CorruptInputError
		if errors.As(err, &at) {
			at += base64.CorruptInputError(len(secret) - len(raw))
			where = " (its length or its = padding is wrong)"
			if int(at) < len(secret) && !strings.ContainsRune(base64Chars, rune(secret[at])) {
				where = fmt.Sprintf(" (the character at byte %d is not one of base64's)", at)
			}
		}
		if prefixed {
			return nil, fmt.Errorf("%w: not base64 after %q%s", ErrInvalidSecret, SecretPrefix, where)
		}
		return nil, fmt.Errorf("%w: not base64%s: a secret is the base64 of its key, with or without %q before it", ErrInvalidSecret, where, SecretPrefix)
	}
	if len(key) < 16 {
		return nil, fmt.Errorf("%w: key is %d bytes, want at least 16", ErrInvalidSecret, len(key))
	}
	return key, nil
}

// base64Chars are the characters of standard base64, its padding included.
const base64Chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="

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
	return string(appendSignature(make([]byte, 0, 64+len(id)), hmac.New(sha256.New, key), id, unix, body))
}

// appendSignature appends "v1,<base64 HMAC>" of "id.unix.body" to dst, using
// the tail of dst as scratch space for the signed prefix so that signing
// allocates nothing of its own. mac must be freshly keyed or Reset.
func appendSignature(dst []byte, mac hash.Hash, id string, unix int64, body []byte) []byte {
	start := len(dst)
	dst = append(dst, id...)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, unix, 10)
	dst = append(dst, '.')
	mac.Write(dst[start:])
	mac.Write(body)
	dst = mac.Sum(dst[:start])
	var sum [sha256.Size]byte
	copy(sum[:], dst[start:])
	dst = append(dst[:start], "v1,"...)
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

// signer signs with one key. Its keyed HMAC states are pooled: creating one
// (two SHA-256 states and the padded key) costs more than signing an event.
type signer struct {
	pool sync.Pool // hash.Hash keyed with the secret
	// expires is the secret's expiry; nil when it has none.
	expires *time.Time
}

func newSigner(key []byte, expires *time.Time) *signer {
	sg := &signer{expires: expires}
	sg.pool.New = func() any { return hmac.New(sha256.New, key) }
	return sg
}

func (sg *signer) activeAt(t time.Time) bool { return sg.expires == nil || sg.expires.After(t) }

func (sg *signer) appendSignature(dst []byte, id string, unix int64, body []byte) []byte {
	mac := sg.pool.Get().(hash.Hash)
	mac.Reset()
	dst = appendSignature(dst, mac, id, unix, body)
	sg.pool.Put(mac)
	return dst
}

// signatureHeader returns the webhook-signature header value: one "v1,..."
// entry per secret active at now, space-separated, so receivers accept the
// message during a rotation whichever secret they hold.
// anyActive reports whether one of signers signs at now.
func anyActive(signers []*signer, now time.Time) bool {
	for _, sg := range signers {
		if sg.activeAt(now) {
			return true
		}
	}
	return false
}

// errNoActiveSecret is the error of a delivery attempt not sent because
// every signing secret of its subscription has expired.
const errNoActiveSecret = "not sent: every signing secret of the subscription has expired; rotate its secret (POST /v1/webhooks/{id}/rotate-secret)"

func signatureHeader(signers []*signer, id string, now time.Time, body []byte) string {
	buf := make([]byte, 0, len(signers)*(len(id)+64))
	unix := now.Unix()
	for _, sg := range signers {
		if !sg.activeAt(now) {
			continue
		}
		if len(buf) > 0 {
			buf = append(buf, ' ')
		}
		buf = sg.appendSignature(buf, id, unix, body)
	}
	// buf is not written again: the string shares its bytes rather than
	// copying them.
	return unsafe.String(unsafe.SliceData(buf), len(buf))
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
