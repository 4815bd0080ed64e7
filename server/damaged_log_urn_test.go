package server

import (
	"context"
	"encoding/hex"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/parleyhq/parley/internal/syncbuf"
	"github.com/parleyhq/parley/store"
)

// TestDamagedContactLogsNoURN: a message, a session start or a timer whose
// turn meets its contact's damaged row fails, as a damaged store file
// fails what reaches it, and is logged above the debug level naming the
// damaged value without the contact's URN in any form, as a contact's read
// or erasure is; at the debug level the error is logged in full.
func TestDamagedContactLogsNoURN(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		t.Run(level.String(), func(t *testing.T) {
			logs := &syncbuf.Buffer{}
			ts, h := colourServer(t, func(c *Config) {
				c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level}))
			})
			const urn = "tel:+12065550177"
			h.message(urn, "m1", "hi")
			err := ts.srv.store.(*store.Bolt).Group(context.Background(), func(tx *bbolt.Tx) error {
				return tx.Bucket([]byte("contact_rows")).Put([]byte(urn), []byte("\xffperiwinkle"))
			})
			if err != nil {
				t.Fatal(err)
			}
			if status, m := h.call("POST", "/v1/channels/sms/messages", `{"from":"`+urn+`","id":"m2","text":"periwinkle"}`); status != 500 {
				t.Errorf("a message of the contact whose row is damaged: %d %v, want 500", status, m)
			}
			if status, m := h.call("POST", "/v1/sessions", `{"flow":"colour","contact":{"urn":"`+urn+`"}}`); status != 500 {
				t.Errorf("a start for the contact whose row is damaged: %d %v, want 500", status, m)
			}
			ts.clock.Advance(DefaultSessionExpiry + time.Hour) // the waiting session's expiry is due
			if _, err := ts.srv.svc.scanTimers(context.Background()); err != nil {
				t.Fatal(err)
			}
			ts.srv.svc.timers.inFlight.Wait()

			l := logs.String()
			for _, want := range []string{
				`level=ERROR msg="request failed"`,
				`level=ERROR msg="timer failed"`,
				`a contact's row (bucket contact_rows): corrupt stored row`,
			} {
				if !strings.Contains(l, want) {
					t.Errorf("the log has no %s:\n%s", want, l)
				}
			}
			above := l
			if level == slog.LevelDebug {
				above = linesAboveDebug(l)
				if !strings.Contains(l, `level=DEBUG msg="request failed, the error in full"`) || !strings.Contains(l, `level=DEBUG msg="timer failed, the error in full"`) ||
					!strings.Contains(l, `contact \"`+urn+`\" (bucket contact_rows)`) {
					t.Errorf("the debug log: want the errors in full:\n%s", l)
				}
			}
			for _, form := range []string{urn[len("tel:+"):], hex.EncodeToString([]byte(urn)), url.PathEscape(urn)} {
				if strings.Contains(above, form) {
					t.Errorf("the log above debug holds %q:\n%s", form, above)
				}
			}
			if strings.Contains(above, "periwinkle") {
				t.Errorf("the log above debug holds the contact's colour:\n%s", above)
			}
		})
	}
}
