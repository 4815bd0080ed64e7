package sim

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/parleyhq/parley/callout"
	"github.com/parleyhq/parley/flows"
)

func TestMocksMatchInOrder(t *testing.T) {
	m, err := ParseMocks([]byte(`{
	  "http://x/orders/*": [{"status": 200, "body": {"n": 1}}, {"status": 500, "body": "down"}],
	  "http://x/orders/special": [{"status": 201, "body": {"special": true}}],
	  "http://x/*": [{"timeout": true}]
	}`))
	if err != nil {
		t.Fatal(err)
	}
	call := func(url string) *flows.WebhookResult {
		return m.Call(context.Background(), &flows.WebhookRequest{Method: "POST", URL: url})
	}
	cases := []struct {
		url     string
		status  int
		outcome string
		body    string
	}{
		{"http://x/orders/special", 201, flows.OutcomeSuccess, `{"special": true}`},
		{"http://x/orders/1", 200, flows.OutcomeSuccess, `{"n": 1}`},
		{"http://x/orders/2", 500, flows.OutcomeFailure, "down"},
		{"http://x/orders/3", 500, flows.OutcomeFailure, "down"}, // the last answer repeats
		{"http://x/other", 0, flows.OutcomeTimeout, ""},
		{"http://y/", 0, flows.OutcomeFailure, ""}, // not sent: no mock answers it
	}
	for _, c := range cases {
		res := call(c.url)
		if res.Status != c.status || res.Outcome != c.outcome || string(res.Body) != c.body {
			t.Errorf("%s: got %d %s %q, want %d %s %q", c.url, res.Status, res.Outcome, res.Body, c.status, c.outcome, c.body)
		}
	}
}

// A mocked answer is held to the size cap a real call has: the webhook's
// max_response_bytes, else the default, so a test sees too_large where the
// server would.
func TestMockedAnswerSizeCap(t *testing.T) {
	big := `"` + strings.Repeat("x", callout.DefaultMaxResponse+10) + `"`
	m, err := ParseMocks([]byte(`{"http://x/big": [{"status": 200, "body": ` + big + `}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		max     int
		outcome string
		kept    int
		says    string
	}{
		{0, flows.OutcomeTooBig, callout.DefaultMaxResponse, "--webhook-max-response"},
		{100, flows.OutcomeTooBig, 100, "set by the webhook's max_response_bytes"},
		{1 << 20, flows.OutcomeSuccess, callout.DefaultMaxResponse + 10, ""},
	} {
		res := m.Call(context.Background(), &flows.WebhookRequest{Method: "GET", URL: "http://x/big", MaxResponse: c.max})
		if res.Outcome != c.outcome || len(res.Body) != c.kept || len(res.Response.Body) != c.kept ||
			res.Response.Truncated != (c.outcome == flows.OutcomeTooBig) || !strings.Contains(res.Error, c.says) {
			t.Errorf("max %d: %s, %d bytes kept (trace %d, truncated %v), error %q; want %s, %d bytes, error naming %q",
				c.max, res.Outcome, len(res.Body), len(res.Response.Body), res.Response.Truncated, res.Error, c.outcome, c.kept, c.says)
		}
	}
}

func TestParseMocksErrors(t *testing.T) {
	for _, bad := range []string{`[]`, `{"u": []}`, `{"u": [{"status": 42}]}`, `{"u": [{"status": 200, "bogus": 1}]}`, `{"u": [{"body": {"v": 1}}]}`} {
		if _, err := ParseMocks([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestParseLine(t *testing.T) {
	cases := []struct {
		line string
		call bool
		want flows.Input
		bad  bool
	}{
		{"hello", false, flows.Text("hello"), false},
		{"12#", true, flows.Digits("12#"), false},
		{"/timeout", false, flows.Timeout(), false},
		{"/hangup", true, flows.Hangup(), false},
		{"//start", false, flows.Text("/start"), false},
		{"/bogus", false, flows.Input{}, true},
		{"/attach image/jpeg:https://example.com/p.jpg", false, flows.Input{Kind: flows.InputText, Attachments: []string{"image/jpeg:https://example.com/p.jpg"}}, false},
		{"/attach image/jpeg:https://example.com/p.jpg  me at the beach ", false, flows.Input{Kind: flows.InputText, Text: "me at the beach", Attachments: []string{"image/jpeg:https://example.com/p.jpg"}}, false},
		{"/location -1.2921,36.8219", false, flows.Input{Kind: flows.InputText, Attachments: []string{"geo:-1.2921,36.8219"}}, false},
		{"/location -1.2921,36.8219 home", false, flows.Input{Kind: flows.InputText, Text: "home", Attachments: []string{"geo:-1.2921,36.8219"}}, false},
		{"//attach x", false, flows.Text("/attach x"), false},
		{"/attach", false, flows.Input{}, true},
		{"/attach https://example.com/p.jpg", false, flows.Input{}, true},
		{"/location 100,1", false, flows.Input{}, true},
		{"/attach image/jpeg:https://example.com/p.jpg", true, flows.Input{}, true},
		{"/timeout now", false, flows.Input{}, true},
		{"/record https://x.test/r.wav 7", true, flows.Recording("https://x.test/r.wav", 7), false},
		{"/record https://x.test/r.wav", true, flows.Recording("https://x.test/r.wav", flows.DurationUnknown), false},
		{"/record", true, flows.Recording("", 0), false},
		{"/record https://x.test/r.wav seven", true, flows.Input{}, true},
		{"/record https://x.test/r.wav 7 8", true, flows.Input{}, true},
	}
	for _, c := range cases {
		got, err := ParseLine(c.line, c.call)
		if (err != nil) != c.bad || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %+v, %v", c.line, got, err)
		}
	}
	// While a recording is awaited, a line is the recording's URL.
	for line, want := range map[string]flows.Input{
		" https://x.test/r.wav ": flows.Recording("https://x.test/r.wav", flows.DurationUnknown),
		"":                       flows.Recording("", flows.DurationUnknown),
		"/timeout":               flows.Timeout(),
	} {
		if got, err := ParseInput(line, true, flows.WaitRecording); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%q while recording: got %+v, %v", line, got, err)
		}
	}
}

// Mocks files and test scripts are read as flows are: each problem named
// by its JSON path, in JSON's terms, with names matching exactly.
func TestFileErrorsNamePaths(t *testing.T) {
	goNames := []string{"Go struct", "of type", "sim.", "[]", "json: "}
	for _, c := range []struct {
		name string
		err  func() error
		want []string
	}{
		{"mock status of the wrong kind", func() error {
			_, err := ParseMocks([]byte(`{"http://e.com/a": [{"status": 200}, {"status": "500"}]}`))
			return err
		}, []string{`mocks: ["http://e.com/a"][1].status: expected an integer, got JSON string`}},
		{"mock field in another case", func() error {
			_, err := ParseMocks([]byte(`{"http://e.com/a": [{"Status": 200}]}`))
			return err
		}, []string{`mocks: ["http://e.com/a"][0].Status: unknown field "Status" (did you mean "status"?`}},
		{"mocks not an object", func() error {
			_, err := ParseMocks([]byte(`[]`))
			return err
		}, []string{`mocks: $: expected a JSON object, got JSON array (expected {"URL"`}},
		{"mocks syntax error", func() error {
			_, err := ParseMocks([]byte("{\"u\":\n [{\"status\": 200,}]}"))
			return err
		}, []string{`mocks: $: malformed JSON at line 2, column 18 (in u[0])`}},
		{"script conversation of the wrong kind", func() error {
			_, err := ParseScript([]byte(`{"flow": "f.json", "conversation": {"send": "hi"}, "seed": "x"}`))
			return err
		}, []string{`script: conversation: expected an array of JSON objects, got JSON object`, `script: seed: expected an integer from 0 up, got JSON string`}},
		{"script seed below 0", func() error {
			_, err := ParseScript([]byte(`{"flow": "f.json", "conversation": [], "seed": -1}`))
			return err
		}, []string{`script: seed: expected an integer from 0 up, got JSON number`}},
		{"script turn field", func() error {
			_, err := ParseScript([]byte(`{"flow": "f.json", "conversation": [{"expect": []}, {"Send": "hi", "expect": "Bye"}]}`))
			return err
		}, []string{`script: conversation[1].Send: unknown field "Send" (did you mean "send"?`, `script: conversation[1].expect: expected an array of strings, got JSON string`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.err()
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			for _, g := range goNames {
				if strings.Contains(strings.ReplaceAll(err.Error(), `["http://e.com/a"]`, ""), g) {
					t.Errorf("error shows Go's %q:\n%v", g, err)
				}
			}
		})
	}
}

// Every problem of a mocks file or a test script is reported: each value
// that cannot answer, and those beside values of the wrong kind or unknown
// fields, but nothing more of a value that could not be read.
func TestEveryFileProblem(t *testing.T) {
	for _, c := range []struct {
		name string
		err  func() error
		want []string
	}{
		{"mocks", func() error {
			_, err := ParseMocks([]byte(`{"http://y/": [], "http://z/": [{"body": {}}], "http://x/": [{"status": 700}]}`))
			return err
		}, []string{
			`mocks: "http://x/"[0]: status 700 is not an HTTP status`,
			`mocks: "http://y/" has no responses`,
			`mocks: "http://z/"[0]: "status" is missing`,
		}},
		{"mocks with values of the wrong kind", func() error {
			_, err := ParseMocks([]byte(`{"http://w/": [{"status": "5"}, {"Status": 200}, {"bogus": 1}], "u": {}, "http://x/": [{"status": 700}]}`))
			return err
		}, []string{
			`mocks: ["http://w/"][0].status: expected an integer, got JSON string`,
			`mocks: ["http://w/"][1].Status: unknown field "Status" (did you mean "status"?`,
			`mocks: ["http://w/"][2].bogus: unknown field "bogus"`,
			`mocks: u: expected an array of JSON objects, got JSON object`,
			`mocks: "http://w/"[2]: "status" is missing`,
			`mocks: "http://x/"[0]: status 700 is not an HTTP status`,
		}},
		{"script", func() error {
			_, err := ParseScript([]byte(`{"flow": 5, "seed": "x", "conversation": [{"expect": []}],
			  "mocks": {"http://y/": [], "http://x/": [{"status": 700}, {"status": "200"}]}}`))
			return err
		}, []string{
			`script: flow: expected a string, got JSON number`,
			`script: seed: expected an integer from 0 up, got JSON string`,
			`script: mocks["http://x/"][1].status: expected an integer, got JSON string`,
			`script: mocks: "http://x/"[0]: status 700 is not an HTTP status`,
			`script: mocks: "http://y/" has no responses`,
		}},
		{"script with an unknown field", func() error {
			_, err := ParseScript([]byte(`{"flow": "f.json", "colour": 1, "conversation": []}`))
			return err
		}, []string{
			`script: colour: unknown field "colour"`,
			`script: "conversation" is empty`,
		}},
		{"script contact URN with an invisible character", func() error {
			_, err := ParseScript([]byte(`{"flow": "f.json", "conversation": [{"expect": []}], "contact": {"urn": "tel:+1555\u200b0100"}}`))
			return err
		}, []string{
			`script: contact.urn: the URN "tel:+1555\u200b0100" holds the invisible character U+200B`,
		}},
		{"script final status", func() error {
			_, err := ParseScript([]byte(`{"flow": "f.json", "conversation": [{"expect": []}], "final_status": "bogus"}`))
			return err
		}, []string{
			`script: final_status: "bogus" is not a status a conversation ends in (waiting, completed, expired, failed, interrupted)`,
		}},
		{"script final status misspelt", func() error {
			_, err := ParseScript([]byte(`{"flow": "f.json", "conversation": [{"expect": []}], "final_status": "complete"}`))
			return err
		}, []string{
			`script: final_status: "complete" is not a status a conversation ends in (waiting, completed, expired, failed, interrupted): did you mean "completed"?`,
		}},
		{"script final status as close to two", func() error {
			_, err := ParseScript([]byte(`{"flow": "f.json", "conversation": [{"expect": []}], "final_status": "ted"}`))
			return err
		}, []string{
			`script: final_status: "ted" is not a status a conversation ends in (waiting, completed, expired, failed, interrupted): did you mean "completed" or "interrupted"?`,
		}},
		{"script final status of the wrong kind", func() error {
			_, err := ParseScript([]byte(`{"flow": "f.json", "conversation": [{"expect": []}], "final_status": 1}`))
			return err
		}, []string{
			`script: final_status: expected a string, got JSON number`,
		}},
		{"script not an object", func() error {
			_, err := ParseScript([]byte(`[]`))
			return err
		}, []string{
			`script: $: expected a JSON object, got JSON array`,
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.err()
			if err == nil {
				t.Fatal("accepted")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(c.want) {
				t.Fatalf("%d problems, want %d:\n%v", len(lines), len(c.want), err)
			}
			for i, w := range c.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("problem %d is %q, want it to start with %q", i, lines[i], w)
				}
			}
		})
	}
}

// TestUnmockedCall: a call no mock answers is not sent: outcome failure,
// the message naming the request with its secrets redacted as its trace
// has them.
func TestUnmockedCall(t *testing.T) {
	m := NewMocks(nil)
	res := m.Call(context.Background(), &flows.WebhookRequest{Method: "post", URL: "http://user:hunter2@127.0.0.1:18801/x?token=abc&page=2"})
	want := "no mock answers POST http://user:[redacted]@127.0.0.1:18801/x?token=[redacted]&page=2"
	if res.Outcome != flows.OutcomeFailure || res.Error != want {
		t.Errorf("got %s %q, want failure %q", res.Outcome, res.Error, want)
	}
	if res.Request == nil || !strings.Contains(res.Error, res.Request.URL) {
		t.Errorf("the message %q does not show the URL of the trace %+v", res.Error, res.Request)
	}
}

// A mocks file or a test script with more problems than are listed at once
// ends the list saying there may be more, and says nothing of what was not
// read: a script's "flow" and "conversation" after its mocks are not said
// to be missing, nor a mock that was not read to be unable to answer.
func TestFileProblemsCutShort(t *testing.T) {
	answers := strings.TrimSuffix(strings.Repeat(`{"status": "200"}, `, 60), ", ")
	more := `$: and more: at most 50 problems are listed at once; these are the first 50`
	for _, c := range []struct {
		name, prefix string
		err          func() error
	}{
		{"mocks", "mocks: ", func() error {
			_, err := ParseMocks([]byte(`{"http://x/a": [` + answers + `], "http://x/b": []}`))
			return err
		}},
		{"script", "script: ", func() error {
			_, err := ParseScript([]byte(`{"mocks": {"http://x/a": [` + answers + `]}, "flow": "f.json", "conversation": [{"expect": []}]}`))
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.err()
			if err == nil {
				t.Fatal("accepted")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != 51 || lines[50] != c.prefix+more {
				t.Fatalf("%d lines, the last %q; want 50 problems and %q", len(lines), lines[len(lines)-1], c.prefix+more)
			}
			if !strings.Contains(lines[49], `[49].status: expected an integer, got JSON string`) {
				t.Errorf("the 50th problem is %q", lines[49])
			}
		})
	}
}
