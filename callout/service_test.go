package callout

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/flows"
	"github.com/parleyhq/parley/internal/syncbuf"
)

// echo answers with what it received, as JSON.
func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery,
		"content_type": r.Header.Get("Content-Type"), "body": string(body),
		"user_agent": r.UserAgent(), "x_custom": r.Header.Get("X-Custom"),
	})
}

func TestMethods(t *testing.T) {
	srv := server(t, echo)
	s := newService(t, Options{})
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "post"} {
		t.Run(m, func(t *testing.T) {
			var body []byte
			if m != "GET" && m != "DELETE" {
				body = []byte(`{"a":1}`)
			}
			res := call(t, s, &flows.WebhookRequest{
				Method: m, URL: srv.URL + "/orders?id=7", Body: body, ContentType: flows.ContentJSON,
				Headers: map[string]string{"X-Custom": "yes"},
			})
			if res.Outcome != flows.OutcomeSuccess || res.Status != 200 || res.Attempts != 1 {
				t.Fatalf("outcome %q status %d attempts %d (%s)", res.Outcome, res.Status, res.Attempts, res.Error)
			}
			var got map[string]string
			if err := json.Unmarshal(res.Body, &got); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"method": strings.ToUpper(m), "path": "/orders", "query": "id=7", "body": string(body), "x_custom": "yes", "user_agent": UserAgent}
			if body != nil {
				want["content_type"] = "application/json"
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("server saw %s=%q, want %q", k, got[k], v)
				}
			}
			if res.Request.Method != strings.ToUpper(m) || res.Request.Body != string(body) || res.Response.Status != 200 {
				t.Errorf("trace %+v / %+v does not describe the exchange", res.Request, res.Response)
			}
		})
	}
}

func TestRefusedRequests(t *testing.T) {
	s := newService(t, Options{MaxRequestBytes: 10})
	tests := []struct {
		name string
		req  flows.WebhookRequest
		want string
	}{
		{name: "method", req: flows.WebhookRequest{Method: "TRACE", URL: "http://127.0.0.1/"}, want: `method "TRACE"`},
		{name: "scheme", req: flows.WebhookRequest{Method: "GET", URL: "ftp://127.0.0.1/"}, want: "http or https"},
		{name: "file", req: flows.WebhookRequest{Method: "GET", URL: "file:///etc/passwd"}, want: "http or https"},
		{name: "no host", req: flows.WebhookRequest{Method: "GET", URL: "http:///x"}, want: "no host"},
		{name: "port only", req: flows.WebhookRequest{Method: "GET", URL: "http://:8080/x"}, want: "no host"},
		{name: "port 0", req: flows.WebhookRequest{Method: "GET", URL: "http://127.0.0.1:0/x"}, want: `port "0", not a number from 1 to 65535`},
		{name: "port too high", req: flows.WebhookRequest{Method: "GET", URL: "http://127.0.0.1:70000/x"}, want: `port "70000"`},
		{name: "body too large", req: flows.WebhookRequest{Method: "POST", URL: "http://127.0.0.1/", Body: []byte("01234567890")}, want: "11 bytes, over the 10-byte limit"},
		{name: "auth", req: flows.WebhookRequest{Method: "GET", URL: "http://127.0.0.1/", Auth: &flows.WebhookAuth{Type: flows.AuthBearer}}, want: "auth.token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := call(t, s, &tt.req)
			if res.Outcome != flows.OutcomeFailure || !strings.Contains(res.Error, tt.want) {
				t.Fatalf("outcome %q error %q, want failure mentioning %q", res.Outcome, res.Error, tt.want)
			}
			if res.Request == nil {
				t.Fatal("no request trace")
			}
		})
	}
}

func TestStatusOutcomes(t *testing.T) {
	tests := []struct {
		status  int
		outcome string
	}{
		{200, flows.OutcomeSuccess},
		{201, flows.OutcomeSuccess},
		{204, flows.OutcomeSuccess},
		{304, flows.OutcomeFailure},
		{400, flows.OutcomeFailure},
		{404, flows.OutcomeFailure},
		{429, flows.OutcomeFailure},
		{500, flows.OutcomeFailure},
		{503, flows.OutcomeFailure},
	}
	s := newService(t, Options{})
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			srv := server(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				if tt.status != 204 && tt.status != 304 {
					w.Write([]byte("plain text, not JSON"))
				}
			})
			res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: srv.URL})
			if res.Outcome != tt.outcome || res.Status != tt.status {
				t.Fatalf("outcome %q status %d, want %q %d", res.Outcome, res.Status, tt.outcome, tt.status)
			}
		})
	}
}

func TestNonJSONAnswer(t *testing.T) {
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><body>ok</body></html>"))
	})
	res := call(t, newService(t, Options{}), &flows.WebhookRequest{Method: "GET", URL: srv.URL})
	if res.Outcome != flows.OutcomeSuccess || string(res.Body) != "<html><body>ok</body></html>" {
		t.Fatalf("outcome %q body %q", res.Outcome, res.Body)
	}
	if Extra(res) != nil {
		t.Fatalf("Extra(%q) = %s, want nil for a non-JSON answer", res.Body, Extra(res))
	}
	if res.Headers["Content-Type"] != "text/html" || res.Response.Body != string(res.Body) {
		t.Fatalf("headers %v, trace body %q", res.Headers, res.Response.Body)
	}
}

func TestRedirects(t *testing.T) {
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		var n int
		if _, err := fmtSscan(r.URL.Path, &n); err == nil && n > 0 {
			http.Redirect(w, r, "/"+itoa(n-1), http.StatusFound)
			return
		}
		w.Write([]byte(`{"arrived":true}`))
	})
	s := newService(t, Options{})
	tests := []struct {
		name     string
		path     string
		follow   bool
		outcome  string
		status   int
		finalURL string
	}{
		{name: "off: 3xx is a failure", path: "/1", outcome: flows.OutcomeFailure, status: 302},
		{name: "on: followed", path: "/3", follow: true, outcome: flows.OutcomeSuccess, status: 200, finalURL: srv.URL + "/0"},
		{name: "on: five hops", path: "/5", follow: true, outcome: flows.OutcomeSuccess, status: 200, finalURL: srv.URL + "/0"},
		{name: "on: more than five hops", path: "/6", follow: true, outcome: flows.OutcomeFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: srv.URL + tt.path, FollowRedirects: tt.follow})
			if res.Outcome != tt.outcome || res.Status != tt.status {
				t.Fatalf("outcome %q status %d (%s), want %q %d", res.Outcome, res.Status, res.Error, tt.outcome, tt.status)
			}
			if tt.finalURL != "" && res.Response.URL != tt.finalURL {
				t.Fatalf("response URL %q, want %q", res.Response.URL, tt.finalURL)
			}
		})
	}
}

// A 3xx that is not a redirect (304 Not Modified, 300, 305, 306) is a
// failure saying its status, redirects followed or not; a redirect without
// a Location says so.
func TestThreeHundredsThatAreNotFollowed(t *testing.T) {
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmtSscan(r.URL.Path, &n)
		if r.URL.Query().Get("to") != "" {
			w.Header().Set("Location", r.URL.Query().Get("to"))
		}
		w.WriteHeader(n)
	})
	s := newService(t, Options{})
	tests := []struct {
		path, want string
	}{
		{"/304", "answered 304 Not Modified, which is not a redirect to follow nor a success (2xx)"},
		{"/300?to=/200", "answered 300 Multiple Choices, which is not a redirect to follow nor a success (2xx)"},
		{"/305?to=/200", "answered 305 Use Proxy, which is not a redirect to follow nor a success (2xx)"},
		{"/306", "answered 306, which is not a redirect to follow nor a success (2xx)"},
		{"/302", "redirect (302) without a Location header: nowhere to follow it to"},
		{"/307", "redirect (307) without a Location header: nowhere to follow it to"},
	}
	for _, tt := range tests {
		for _, follow := range []bool{false, true} {
			res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: srv.URL + tt.path, FollowRedirects: follow})
			if res.Outcome != flows.OutcomeFailure || res.Error != tt.want || res.Attempts != 1 {
				t.Errorf("%s, follow %v: outcome %q, %d attempts, error %q; want failure, 1 attempt, %q", tt.path, follow, res.Outcome, res.Attempts, res.Error, tt.want)
			}
		}
	}
	res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: srv.URL + "/302?to=/200"})
	if want := "redirect (302) not followed: follow_redirects is off"; res.Error != want {
		t.Errorf("a redirect with redirects off: %q, want %q", res.Error, want)
	}
}

func TestTimeouts(t *testing.T) {
	srv := stallingServer(t)
	s := newService(t, Options{DefaultTimeout: 50 * time.Millisecond})
	tests := []struct {
		name    string
		path    string
		timeout time.Duration
		status  int
	}{
		{name: "request timeout", path: "/", timeout: 50 * time.Millisecond},
		{name: "service default", path: "/"},
		{name: "while reading the answer", path: "/partial", timeout: 50 * time.Millisecond, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: srv.URL + tt.path, Timeout: tt.timeout})
			if res.Outcome != flows.OutcomeTimeout || res.Status != tt.status {
				t.Fatalf("outcome %q status %d (%s), want timeout %d", res.Outcome, res.Status, res.Error, tt.status)
			}
			if Exit(res.Outcome, true) != flows.ExitTimeout || Exit(res.Outcome, false) != flows.ExitFailure {
				t.Fatal("a timeout should take Timeout when the widget has it, Failure otherwise")
			}
		})
	}
}

func TestConnectionError(t *testing.T) {
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {})
	url := srv.URL
	srv.Close()
	res := call(t, newService(t, Options{}), &flows.WebhookRequest{Method: "GET", URL: url})
	if res.Outcome != flows.OutcomeError || res.Error == "" || res.Status != 0 {
		t.Fatalf("outcome %q status %d error %q, want error", res.Outcome, res.Status, res.Error)
	}
}

func TestSizeCap(t *testing.T) {
	big := strings.Repeat("x", 1000)
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.Write([]byte(big))
	})
	s := newService(t, Options{DefaultMaxResponse: 100})
	tests := []struct {
		name    string
		max     int
		outcome string
		kept    int
		says    string // the error names the setting that gave the cap
	}{
		{name: "service default cap", outcome: flows.OutcomeTooBig, kept: 100, says: "answer is over the 100-byte limit; cut (a webhook raises its own with max_response_bytes, parley serve the default of every webhook with --webhook-max-response)"},
		{name: "request cap", max: 10, outcome: flows.OutcomeTooBig, kept: 10, says: "answer is over the 10-byte limit set by the webhook's max_response_bytes; cut"},
		{name: "exactly at the cap", max: 1000, outcome: flows.OutcomeSuccess, kept: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: srv.URL, MaxResponse: tt.max})
			if res.Outcome != tt.outcome || len(res.Body) != tt.kept || res.Status != 200 {
				t.Fatalf("outcome %q, %d bytes kept, status %d; want %q, %d, 200", res.Outcome, len(res.Body), res.Status, tt.outcome, tt.kept)
			}
			if res.Response.Truncated != (tt.outcome == flows.OutcomeTooBig) || len(res.Response.Body) != tt.kept {
				t.Fatalf("trace truncated=%v with %d bytes", res.Response.Truncated, len(res.Response.Body))
			}
			if res.Error != tt.says {
				t.Errorf("error %q, want %q", res.Error, tt.says)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		unsafe   bool
		retries  int
		statuses []int // answers in order; the last repeats
		outcome  string
		attempts int
	}{
		{name: "GET retried on 503 until success", method: "GET", retries: 3, statuses: []int{503, 503, 200}, outcome: flows.OutcomeSuccess, attempts: 3},
		{name: "GET gives up after its retries", method: "GET", retries: 2, statuses: []int{500}, outcome: flows.OutcomeFailure, attempts: 3},
		{name: "429 retried", method: "PUT", retries: 1, statuses: []int{429, 204}, outcome: flows.OutcomeSuccess, attempts: 2},
		{name: "DELETE retried", method: "DELETE", retries: 1, statuses: []int{502, 200}, outcome: flows.OutcomeSuccess, attempts: 2},
		{name: "400 not retried", method: "GET", retries: 3, statuses: []int{400}, outcome: flows.OutcomeFailure, attempts: 1},
		{name: "POST not retried", method: "POST", retries: 3, statuses: []int{503, 200}, outcome: flows.OutcomeFailure, attempts: 1},
		{name: "PATCH not retried", method: "PATCH", retries: 3, statuses: []int{503, 200}, outcome: flows.OutcomeFailure, attempts: 1},
		{name: "POST retried when unsafe retries are on", method: "POST", unsafe: true, retries: 3, statuses: []int{503, 200}, outcome: flows.OutcomeSuccess, attempts: 2},
		{name: "no retries asked", method: "GET", statuses: []int{503, 200}, outcome: flows.OutcomeFailure, attempts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			srv := server(t, func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				w.WriteHeader(tt.statuses[min(i, len(tt.statuses)-1)])
			})
			res := call(t, newService(t, Options{}), &flows.WebhookRequest{
				Method: tt.method, URL: srv.URL, Retries: tt.retries, RetryBackoff: time.Millisecond, RetryUnsafe: tt.unsafe,
			})
			if res.Outcome != tt.outcome || res.Attempts != tt.attempts || int(n.Load()) != tt.attempts {
				t.Fatalf("outcome %q after %d attempts (server saw %d), want %q after %d", res.Outcome, res.Attempts, n.Load(), tt.outcome, tt.attempts)
			}
			if tt.attempts > 1 {
				if len(res.Calls) != tt.attempts {
					t.Fatalf("%d calls listed, want %d", len(res.Calls), tt.attempts)
				}
				for i, c := range res.Calls {
					if c.Attempt != i+1 || c.Response == nil || c.Response.Status != tt.statuses[min(i, len(tt.statuses)-1)] {
						t.Fatalf("call %d: %+v", i, c)
					}
				}
			} else if res.Calls != nil {
				t.Fatalf("calls listed for a single attempt: %+v", res.Calls)
			}
		})
	}
}

func TestRetryOnTimeoutAndConnectionError(t *testing.T) {
	var n atomic.Int32
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(200)
	})
	res := call(t, newService(t, Options{}), &flows.WebhookRequest{
		Method: "GET", URL: srv.URL, Timeout: 50 * time.Millisecond, Retries: 1, RetryBackoff: time.Millisecond,
	})
	if res.Outcome != flows.OutcomeSuccess || res.Attempts != 2 || res.Calls[0].Error == "" {
		t.Fatalf("outcome %q attempts %d calls %+v", res.Outcome, res.Attempts, res.Calls)
	}

	closed := server(t, func(w http.ResponseWriter, r *http.Request) {})
	url := closed.URL
	closed.Close()
	res = call(t, newService(t, Options{}), &flows.WebhookRequest{Method: "GET", URL: url, Retries: 2, RetryBackoff: time.Millisecond})
	if res.Outcome != flows.OutcomeError || res.Attempts != 3 {
		t.Fatalf("outcome %q attempts %d, want error after 3", res.Outcome, res.Attempts)
	}
}

// A backoff that would outlast the caller's deadline is not slept: the call
// returns the last answer instead.
func TestRetryRespectsDeadline(t *testing.T) {
	var n atomic.Int32
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(503)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res := newService(t, Options{}).Call(ctx, &flows.WebhookRequest{Method: "GET", URL: srv.URL, Retries: 3, RetryBackoff: time.Hour})
	if res.Outcome != flows.OutcomeFailure || res.Status != 503 || res.Attempts != 1 || n.Load() != 1 {
		t.Fatalf("outcome %q status %d attempts %d", res.Outcome, res.Status, res.Attempts)
	}
	if ctx.Err() != nil {
		t.Fatal("the call waited until the deadline")
	}
}

// A URL's user info is sent as Basic auth unless the call sets its own
// Authorization header, and stays out of the trace.
func TestURLUserInfo(t *testing.T) {
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.Header.Get("Authorization")))
	})
	s := newService(t, Options{})
	withUser := strings.Replace(srv.URL, "http://", "http://ana:url-s3cret@", 1) + "/x"
	res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: withUser})
	if string(res.Body) != "Basic YW5hOnVybC1zM2NyZXQ=" {
		t.Fatalf("server saw Authorization %q", res.Body)
	}
	if strings.Contains(res.Request.URL, "url-s3cret") || !strings.Contains(res.Request.URL, "ana:") {
		t.Errorf("trace URL %q", res.Request.URL)
	}
	// The header is shown redacted, as basic auth's is, and a receiver
	// echoing it does not show the credentials encoded; redirects or not.
	for _, follow := range []bool{false, true} {
		req := &flows.WebhookRequest{Method: "GET", URL: withUser, FollowRedirects: follow}
		res := call(t, s, req)
		if res.Request.Headers["Authorization"] != Redacted {
			t.Errorf("follow %v: trace headers %v, want Authorization %s", follow, res.Request.Headers, Redacted)
		}
		ev, _ := json.Marshal(Event(req, res))
		recorded := string(ev) + Describe(res)
		if strings.Contains(recorded, "YW5hOnVybC1zM2NyZXQ=") || strings.Contains(recorded, "url-s3cret") {
			t.Errorf("follow %v: the credentials are recorded: %s", follow, recorded)
		}
		if !strings.Contains(res.Response.Body, "Basic "+Redacted) {
			t.Errorf("follow %v: the echoed header reads %q", follow, res.Response.Body)
		}
	}
	res = call(t, s, &flows.WebhookRequest{Method: "GET", URL: withUser, Headers: map[string]string{"Authorization": "Bearer own"}})
	if string(res.Body) != "Bearer own" {
		t.Fatalf("server saw Authorization %q, want the call's own", res.Body)
	}
}

// An https URL answered in plain HTTP says so.
func TestSchemeMismatch(t *testing.T) {
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {})
	res := call(t, newService(t, Options{}), &flows.WebhookRequest{Method: "GET", URL: strings.Replace(srv.URL, "http://", "https://", 1)})
	if res.Outcome != flows.OutcomeError || res.Error != http.ErrSchemeMismatch.Error() {
		t.Fatalf("outcome %q error %q", res.Outcome, res.Error)
	}
}

// A call cut off by the caller's deadline (the turn's time limit, well
// before the call's own timeout) has the outcome timeout, as the call's own
// timeout does, with the deadline's cause as its message: also when it is
// cut while getting an OAuth token or reading the answer.
func TestCutByTheCallersDeadline(t *testing.T) {
	srv := stallingServer(t)
	s := newService(t, Options{DefaultTimeout: time.Minute})
	limit := errors.New("the turn's time limit was reached")
	for _, tt := range []struct {
		name string
		req  flows.WebhookRequest
	}{
		{"waiting for the answer", flows.WebhookRequest{Method: "GET", URL: srv.URL + "/"}},
		{"reading the answer", flows.WebhookRequest{Method: "GET", URL: srv.URL + "/partial"}},
		{"getting a token", flows.WebhookRequest{Method: "GET", URL: srv.URL + "/api", Auth: &flows.WebhookAuth{
			Type: flows.AuthOAuth2ClientCredentials, ClientID: "parley", ClientSecret: "s", TokenURL: srv.URL + "/token"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeoutCause(context.Background(), 100*time.Millisecond, limit)
			defer cancel()
			res := s.Call(ctx, &tt.req)
			if res.Outcome != flows.OutcomeTimeout || res.Error != limit.Error() {
				t.Errorf("outcome %q (%s), want timeout (%s)", res.Outcome, res.Error, limit)
			}
		})
	}
}

// A URL that does not parse (a template that rendered into one) shows
// neither its password nor its secret parameters in the result, its event
// or the log line, as one that parses does not.
func TestUnparsedURLRedacted(t *testing.T) {
	var logs syncbuf.Buffer
	s := newService(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for _, raw := range []string{
		`https://bob:s3cretpw@api.example.com:@("x9")/x?token=tok123&plain=visible`,
		"https://bob:s3cretpw@api.example.com:99999999999/x?api_key=tok123",
		"https://bob:s3cretpw@api example.com/x?token=tok123&plain=visible#frag",
		"https://bob:s3cr/etpw+Kl=@@api.example.invalid/x?token=tok123",
		"https://bob:s3cretpw@99@exa mple.com/x",
		"http://bob:s3cretpw?cd@127.0.0.1:19151/ok?x=1&token=tok123",
		"http://host:ab/p?email=a@b.com&token=tok123",
	} {
		req := &flows.WebhookRequest{Method: "GET", URL: raw}
		res := s.Call(context.Background(), req)
		ev, _ := json.Marshal(Event(req, res))
		recorded := string(ev) + Describe(res) + res.Error + logs.String()
		if strings.Contains(recorded, "s3cretpw") || strings.Contains(recorded, "tok123") || strings.Contains(recorded, "etpw+Kl") || strings.Contains(recorded, "@99@") {
			t.Errorf("%s: the secrets are recorded: %s", raw, recorded)
		}
		if strings.Contains(raw, "bob:") && strings.Contains(res.Error, "not a valid URL") && !strings.Contains(res.Error, "bob:"+Redacted+"@") {
			t.Errorf("%s: error %q does not show the URL redacted", raw, res.Error)
		}
	}
	if !strings.Contains(logs.String(), "plain=visible") || !strings.Contains(logs.String(), "not a valid URL") {
		t.Errorf("a parameter that is no secret is redacted too, or no URL was refused: %s", logs.String())
	}
}

// ParseProblem gives the parser's reason unless it quotes a piece of the
// password.
func TestParseProblem(t *testing.T) {
	for _, c := range []struct{ raw, want string }{
		{"http://bob:pw77@127.0.0.1/a%zz", `invalid URL escape "%zz"`},
		{"https://bob:ab/cdEF@api.example.com/x", "it does not parse (the parser's reason is left out: it quotes part of the password)"},
		{"https://crm example.com/in", `invalid character " " in host name`},
	} {
		_, err := url.Parse(c.raw)
		if err == nil {
			t.Fatalf("%s parses", c.raw)
		}
		if got := ParseProblem(c.raw, err); got != c.want {
			t.Errorf("ParseProblem(%s) = %q, want %q", c.raw, got, c.want)
		}
	}
}

// A webhook stored with an auth field its type does not send (bearer with a
// username) loads with a warning and calls as it did: the field is left
// out, the call goes with the token.
func TestCallWithAuthFieldOfAnotherType(t *testing.T) {
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.Header.Get("Authorization")))
	})
	s := newService(t, Options{})
	res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: srv.URL + "/x",
		Auth: &flows.WebhookAuth{Type: flows.AuthBearer, Token: "tok-1234", Username: "u"}})
	if res.Outcome != flows.OutcomeSuccess || string(res.Body) != "Bearer tok-1234" {
		t.Errorf("outcome %s, body %q (%s), want success with the bearer token", res.Outcome, res.Body, res.Error)
	}
	if errs := Validate(&flows.WebhookConfig{URL: "https://e.com", Auth: &flows.WebhookAuth{Type: flows.AuthBearer, Token: "t", Username: "u"}}, true); len(errs) != 1 || !errors.Is(errs[0], flows.ErrNewRule) {
		t.Errorf("Validate: %v, want the one new-rule error", errs)
	}
}
