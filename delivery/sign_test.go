package delivery

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

const (
	vecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecTS     = 1614265330
	vecBody   = `{"test": 2432232314}`
	vecSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignVector(t *testing.T) {
	got, err := Sign(vecSecret, vecID, time.Unix(vecTS, 0), []byte(vecBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != vecSig {
		t.Fatalf("Sign = %s, want %s", got, vecSig)
	}
	// The reference implementation agrees on the same input.
	wh, err := standardwebhooks.NewWebhook(vecSecret)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(HeaderID, vecID)
	h.Set(HeaderTimestamp, strconv.Itoa(vecTS))
	h.Set(HeaderSignature, got)
	if err := wh.VerifyIgnoringTimestamp([]byte(vecBody), h); err != nil {
		t.Fatalf("reference verifier rejects our signature: %v", err)
	}
}

func TestVerify(t *testing.T) {
	now := time.Now()
	other := NewSecret()
	sigFor := func(secret string, ts time.Time, body string) string {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		s, err := wh.Sign("msg_1", ts, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name      string
		secrets   []string
		signature string
		ts        time.Time
		body      string
		tolerance time.Duration
		want      error
	}{
		{"valid", []string{vecSecret}, sigFor(vecSecret, now, "{}"), now, "{}", 0, nil},
		{"second secret matches", []string{other, vecSecret}, sigFor(vecSecret, now, "{}"), now, "{}", 0, nil},
		{"one of two signatures matches", []string{other}, sigFor(vecSecret, now, "{}") + " " + sigFor(other, now, "{}"), now, "{}", 0, nil},
		{"body changed", []string{vecSecret}, sigFor(vecSecret, now, "{}"), now, `{"a":1}`, 0, ErrNoMatchingSignature},
		{"wrong secret", []string{other}, sigFor(vecSecret, now, "{}"), now, "{}", 0, ErrNoMatchingSignature},
		{"too old", []string{vecSecret}, sigFor(vecSecret, now.Add(-10*time.Minute), "{}"), now.Add(-10 * time.Minute), "{}", 0, ErrTimestampOutOfRange},
		{"too new", []string{vecSecret}, sigFor(vecSecret, now.Add(10*time.Minute), "{}"), now.Add(10 * time.Minute), "{}", 0, ErrTimestampOutOfRange},
		{"old but tolerance disabled", []string{vecSecret}, sigFor(vecSecret, now.Add(-48*time.Hour), "{}"), now.Add(-48 * time.Hour), "{}", -1, nil},
		{"unknown version ignored", []string{vecSecret}, strings.Replace(sigFor(vecSecret, now, "{}"), "v1,", "v2,", 1), now, "{}", 0, ErrNoMatchingSignature},
		{"missing signature", []string{vecSecret}, "", now, "{}", 0, ErrMissingHeaders},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			h.Set(HeaderID, "msg_1")
			h.Set(HeaderTimestamp, strconv.FormatInt(tt.ts.Unix(), 10))
			if tt.signature != "" {
				h.Set(HeaderSignature, tt.signature)
			}
			err := Verify(tt.secrets, h, []byte(tt.body), tt.tolerance)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNewSecret(t *testing.T) {
	s := NewSecret()
	if !strings.HasPrefix(s, SecretPrefix) {
		t.Fatalf("secret %q lacks %s", s, SecretPrefix)
	}
	key, err := decodeSecret(s)
	if err != nil || len(key) != 24 {
		t.Fatalf("secret %q: key %d bytes, err %v; want 24 bytes", s, len(key), err)
	}
	if NewSecret() == s {
		t.Fatal("two secrets are equal")
	}
}

func BenchmarkSign(b *testing.B) {
	body := []byte(strings.Repeat(`{"type":"flow.completed","data":{"k":"v"}}`, 20))
	ts := time.Unix(vecTS, 0)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(vecSecret, vecID, ts, body); err != nil {
			b.Fatal(err)
		}
	}
}

// A secret that is not base64 is refused by what was given: one without
// the whsec_ prefix is not said to be wrong "after whsec_".
func TestDecodeSecretNamesWhatWasGiven(t *testing.T) {
	for _, tc := range []struct{ secret, want string }{
		{"whsec_abc!defghijklmnopqrstuvw", `invalid signing secret: not base64 after "whsec_" (the character at byte 9 is not one of base64's)`},
		{"my-own-secret-value-here", `invalid signing secret: not base64 (the character at byte 2 is not one of base64's): a secret is the base64 of its key, with or without "whsec_" before it`},
		{"abc", `invalid signing secret: not base64 (its length or its = padding is wrong): a secret is the base64 of its key, with or without "whsec_" before it`},
		{"whsec_abcde", `invalid signing secret: not base64 after "whsec_" (its length or its = padding is wrong)`},
		{"c2hvcnQ=", "invalid signing secret: key is 5 bytes, want at least 16"},
	} {
		_, err := decodeSecret(tc.secret)
		if !errors.Is(err, ErrInvalidSecret) || err.Error() != tc.want {
			t.Errorf("%q: %v, want %s", tc.secret, err, tc.want)
		}
	}
}
