package delivery

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/parleyhq/parley/flows"
)

// The hand-written record encoders must write what the JSON libraries write,
// so records stay readable by every reader and unchanged on disk.

var recordStrings = []string{
	"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "line\nfeed\ttab\rcr\bbs\fff",
	"\x00\x01\x1f\x7f", "héllo wörld ✓ 🎉", "bad \xff utf8 \xc3", "sep \u2028 and \u2029", "tel:+15550100",
}

func TestEncodeDeliveryMatchesJSON(t *testing.T) {
	base := time.Date(2026, 3, 4, 5, 6, 7, 891011121, time.UTC)
	zoned := time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("x", -(5*3600+30*60)))
	var cases []Delivery
	for i, s := range recordStrings {
		next, last := base.Add(time.Duration(i)*time.Second), zoned
		d := Delivery{
			ID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", EventID: "evt_" + s, EventType: EventFlowCompleted,
			Environment: EnvLive, Flow: s, EndpointID: "sub", MessageID: s, Status: StatusPending, Attempts: i,
			EventTime: base, CreatedAt: zoned, NextAttempt: &next, LastError: s, LastStatus: 500 + i, Manual: i%2 == 0,
		}
		if i%3 == 0 {
			d.NextAttempt, d.LastAttempt = nil, &last
		}
		cases = append(cases, d)
	}
	cases = append(cases, Delivery{}, Delivery{EventTime: time.Unix(0, 1), Payload: json.RawMessage(`{"a":1}`)})
	for i, d := range cases {
		got, err := encodeDelivery(nil, &d)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		c := d
		c.Payload = nil
		want, err := json.Marshal(&c)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("case %d: encodeDelivery\n got %s\nwant %s", i, got, want)
		}
		// Records written before were encoded with json/v1, which writes
		// invalid UTF-8 as a raw U+FFFD rather than escaped: the same value.
		old, err := jsonv1.Marshal(&c)
		if err != nil {
			t.Fatal(err)
		}
		var fromNew, fromOld Delivery
		if err := jsonv1.Unmarshal(got, &fromNew); err != nil {
			t.Fatal(err)
		}
		if err := jsonv1.Unmarshal(old, &fromOld); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fromNew, fromOld) {
			t.Errorf("case %d: decodes to\n%+v\nwant\n%+v", i, fromNew, fromOld)
		}
	}
}

func TestEncodeAttemptMatchesJSON(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 8000, time.UTC)
	var cases []Attempt
	for i, s := range recordStrings {
		a := Attempt{
			DeliveryID: "d" + s, Number: i + 1, Time: at, Outcome: flows.OutcomeFailure, Error: s,
			DurationMS: []float64{0, 0.123, 1234.5, 1e-7, 3e21, -2.5, 12, 0.000001, 1e20, 99.999}[i],
			Request: flows.HTTPTrace{Method: "POST", URL: "http://127.0.0.1/h?x=" + s, Headers: map[string]string{
				"Webhook-Id": s, "Content-Type": "application/json", "Authorization": redacted, "X-" + s[:min(len(s), 3)]: s,
			}, Body: s},
		}
		if i%2 == 0 {
			a.Response = &flows.HTTPTrace{Status: 500 + i, Headers: map[string]string{"Date": s}, Body: s, Truncated: i%4 == 0}
		}
		cases = append(cases, a)
	}
	cases = append(cases, Attempt{}, Attempt{Response: &flows.HTTPTrace{}})
	for i, a := range cases {
		got, err := encodeAttempt(nil, &a)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		want, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("case %d: encodeAttempt\n got %s\nwant %s", i, got, want)
		}
	}
}

func TestEncodeEndpointStateMatchesJSON(t *testing.T) {
	for i, st := range []endpointState{
		{},
		{LastSuccess: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), ConsecutiveFailures: 3,
			LastFailure: time.Date(2026, 1, 2, 3, 4, 6, 0, time.Local), FailingSince: time.Unix(1, 0)},
		{FailingSince: time.Unix(5, 0), StreakFrom: time.Unix(4, 0), ConsecutiveFailures: 2,
			LastDisabledAt: time.Unix(9, 0), RecoverSince: time.Unix(3, 0)},
	} {
		got, err := encodeEndpointState(nil, &st)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(&st)
		if string(got) != string(want) {
			t.Errorf("case %d: encodeEndpointState\n got %s\nwant %s", i, got, want)
		}
	}
}

// Values the library refuses are refused the same way.
func TestEncodeRecordErrors(t *testing.T) {
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := encodeDelivery(nil, &Delivery{NextAttempt: &far}); err == nil {
		t.Error("encodeDelivery accepted a time in year 10000")
	}
	if _, err := encodeAttempt(nil, &Attempt{Time: far}); err == nil {
		t.Error("encodeAttempt accepted a time in year 10000")
	}
	if _, err := encodeEndpointState(nil, &endpointState{LastSuccess: far}); err == nil {
		t.Error("encodeEndpointState accepted a time in year 10000")
	}
}
