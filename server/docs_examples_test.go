package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/examples"
)

// TestDocsExamples runs the request examples of the README and the HTTP
// docs against a real server, in the order they are written, each doc on a
// fresh data directory seeded with the examples as `parley serve` seeds it
// on its first start, and checks each answer against the one the doc
// shows. So an example a user copies gives what the doc says, and one that
// drifts fails here. The forms read (docs/api.md says so too):
//
//   - in a fenced block, a `curl` command (`$ curl ...` or `curl ...`),
//     followed by its answer: the lines after it up to the next command,
//     or its `# ` comment lines; `(201)` at the end of an answer is its
//     status, which is otherwise any 2xx;
//   - `<!-- request: METHOD PATH [BODY] -->` before a fenced block: that
//     request, its body the block's JSON unless the comment gives one;
//   - `<!-- answer: STATUS -->` before a fenced block: the last request's
//     answer;
//   - `<!-- server: api-keys -->` before a fenced block or a request marker:
//     its requests go to a server started with an API key, which they do
//     not send.
//
// An answer may elide: `...` stands for any value, the rest of an object's
// members or of an array's elements; a string ending in `...` for any string
// it begins (an id such as "01a2..." for any id of that shape); a UUID for
// any UUID, a time for any time.
func TestDocsExamples(t *testing.T) {
	for _, d := range []struct {
		doc string
		min int // examples the doc has at least: a reader that finds fewer is broken
	}{
		{"../README.md", 8}, {"../docs/api.md", 25}, {"../docs/events.md", 0},
		{"../docs/webhooks.md", 2}, {"../docs/simulator.md", 2},
	} {
		t.Run(filepath.Base(d.doc), func(t *testing.T) {
			exs := readDocExamples(t, d.doc)
			if len(exs) < d.min {
				t.Fatalf("%d examples read from %s, where it has at least %d", len(exs), d.doc, d.min)
			}
			if len(exs) == 0 {
				return
			}
			// The examples' webhooks and endpoints are example.com hosts,
			// which do not answer: their calls fail, as the docs expect, and
			// short limits keep a resolver that does not answer from
			// holding the test up.
			ts := newTestServer(t, func(c *Config) {
				c.Examples = examples.FS
				c.WebhookTimeout = 2 * time.Second
				c.Delivery.Timeout = 2 * time.Second
			})
			r := &docRunner{t: t, base: ts.listen(), ids: map[string]string{}}
			r.keyedBase = func() string {
				keyed := newTestServer(t, func(c *Config) {
					c.Examples = examples.FS
					c.APIKeys = []APIKey{{Name: "docs", Key: "pk_docs-example-key"}}
				})
				base := keyed.listen()
				r.keyedBase = func() string { return base }
				return base
			}
			for _, ex := range exs {
				r.run(ex)
			}
			r.flush()
		})
	}
}

// docExample is one request of a doc, with the answer it shows.
type docExample struct {
	where   string // file:line
	method  string
	path    string
	header  http.Header
	body    string
	hasBody bool
	status  int    // 0: any 2xx
	answer  string // "" when the doc shows none
	request bool   // false: an answer marker for the request before it
	keyed   bool   // sent to a server with API keys
}

var (
	markerRe = regexp.MustCompile(`^<!-- (request|answer|server): (.*?) -->$`)
	statusRe = regexp.MustCompile(`\s+\((\d{3})\)\s*$`)
)

func readDocExamples(t *testing.T, doc string) []docExample {
	t.Helper()
	raw, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	name := strings.TrimPrefix(doc, "../")
	var (
		out     []docExample
		pending *docExample // a marker waiting for its block
		keyed   bool        // the next block's requests go to a server with API keys
	)
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if m := markerRe.FindStringSubmatch(line); m != nil {
			ex := docExample{where: fmt.Sprintf("%s:%d", name, i+1)}
			if pending != nil {
				t.Fatalf("%s: a marker with no fenced block after it", pending.where)
			}
			switch m[1] {
			case "server":
				if m[2] != "api-keys" {
					t.Fatalf("%s: server marker: %q is not api-keys", ex.where, m[2])
				}
				keyed = true
				continue
			case "request":
				ex.request = true
				method, rest, _ := strings.Cut(m[2], " ")
				path, body, _ := strings.Cut(rest, " ")
				ex.method, ex.path, ex.body = method, path, strings.TrimSpace(body)
				ex.hasBody = ex.body != ""
				if ex.hasBody {
					ex.keyed, keyed = keyed, false
					out = append(out, ex)
					continue
				}
			case "answer":
				n, err := strconv.Atoi(m[2])
				if err != nil {
					t.Fatalf("%s: answer marker: %q is not a status", ex.where, m[2])
				}
				ex.status = n
			}
			pending = &ex
			continue
		}
		if !strings.HasPrefix(line, "```") {
			continue
		}
		start := i + 1
		for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), "```"); i++ {
		}
		block := lines[start:i]
		wasKeyed := keyed
		keyed = false
		if pending != nil {
			ex := *pending
			ex.keyed = wasKeyed
			pending = nil
			text := strings.TrimSpace(strings.Join(block, "\n"))
			if ex.request {
				ex.body, ex.hasBody = text, true
			} else {
				ex.answer = text
			}
			out = append(out, ex)
			continue
		}
		exs := curlExamples(t, name, start, block)
		for k := range exs {
			exs[k].keyed = wasKeyed
		}
		out = append(out, exs...)
	}
	if pending != nil {
		t.Fatalf("%s: a marker with no fenced block after it", pending.where)
	}
	return out
}

// curlExamples reads the curl commands of a fenced block and their answers.
func curlExamples(t *testing.T, name string, first int, block []string) []docExample {
	t.Helper()
	var out []docExample
	for _, line := range block {
		cmd := strings.TrimPrefix(strings.TrimSpace(line), "$ ")
		if strings.Contains(cmd, "curl ") && strings.ContainsAny(cmd, "$|") {
			return nil // a sketch with shell variables or pipes: not run as written
		}
	}
	for j := 0; j < len(block); j++ {
		line := strings.TrimSpace(block[j])
		dollar := strings.HasPrefix(line, "$ curl ")
		if !dollar && !strings.HasPrefix(line, "curl ") {
			continue
		}
		where := fmt.Sprintf("%s:%d", name, first+j+1)
		cmd := strings.TrimPrefix(line, "$ ")
		for j+1 < len(block) {
			if strings.HasSuffix(cmd, `\`) {
				j++
				cmd = strings.TrimSuffix(cmd, `\`) + " " + strings.TrimSpace(block[j])
			} else if _, err := shellWords(cmd); err != nil { // a quote open across lines
				j++
				cmd += "\n" + block[j]
			} else {
				break
			}
		}
		ex := curlRequest(t, where, cmd)
		var ans []string
		for j+1 < len(block) {
			next := strings.TrimSpace(block[j+1])
			if dollar {
				if strings.HasPrefix(next, "$ ") {
					break
				}
				ans = append(ans, next)
			} else {
				if !strings.HasPrefix(next, "#") {
					break
				}
				ans = append(ans, strings.TrimSpace(strings.TrimPrefix(next, "#")))
			}
			j++
		}
		answer := strings.TrimSpace(strings.Join(ans, " "))
		if m := statusRe.FindStringSubmatch(answer); m != nil {
			ex.status, _ = strconv.Atoi(m[1])
			answer = strings.TrimSpace(answer[:len(answer)-len(m[0])])
		}
		ex.answer = answer
		out = append(out, ex)
	}
	return out
}

// curlRequest reads the curl flags the docs use, as curl reads them.
func curlRequest(t *testing.T, where, cmd string) docExample {
	t.Helper()
	args, err := shellWords(cmd)
	if err != nil {
		t.Fatalf("%s: %v: %s", where, err, cmd)
	}
	ex := docExample{where: where, request: true, header: http.Header{}}
	for k := 1; k < len(args); k++ {
		a := args[k]
		next := func() string {
			k++
			if k >= len(args) {
				t.Fatalf("%s: %s needs a value: %s", where, a, cmd)
			}
			return args[k]
		}
		switch {
		case a == "-s" || a == "-sf" || a == "-f":
		case a == "-X":
			ex.method = next()
		case a == "-d":
			d := next()
			if f, ok := strings.CutPrefix(d, "@"); ok {
				b, err := os.ReadFile(filepath.Join("..", f))
				if err != nil {
					t.Fatalf("%s: -d %s: %v", where, d, err)
				}
				d = string(b)
			}
			ex.body, ex.hasBody = d, true
		case a == "-H":
			h := next()
			name, v, ok := strings.Cut(h, ":")
			if !ok {
				t.Fatalf("%s: -H %q is not NAME: VALUE", where, h)
			}
			ex.header.Set(strings.TrimSpace(name), strings.TrimSpace(v))
		case strings.HasPrefix(a, "-"):
			t.Fatalf("%s: curl flag %s is not one the docs' examples are run with", where, a)
		default:
			u := strings.TrimPrefix(strings.TrimPrefix(a, "http://"), "https://")
			host, path, _ := strings.Cut(u, "/")
			if host != "localhost:8080" && host != "127.0.0.1:8080" {
				t.Fatalf("%s: %s is not an address of the server at localhost:8080", where, a)
			}
			ex.path = "/" + path
		}
	}
	if ex.method == "" {
		ex.method = "GET"
		if ex.hasBody {
			ex.method = "POST"
		}
	}
	if ex.hasBody && ex.header.Get("Content-Type") == "" {
		ex.header.Set("Content-Type", "application/x-www-form-urlencoded") // as curl -d sends it
	}
	return ex
}

// shellWords splits a command line as sh does for the quoting the docs
// use: single and double quotes, backslash escapes, and a # comment.
func shellWords(s string) ([]string, error) {
	var (
		out  []string
		cur  strings.Builder
		in   bool
		quot rune
	)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case quot == '\'':
			if c == '\'' {
				quot = 0
			} else {
				cur.WriteRune(c)
			}
		case quot == '"':
			switch {
			case c == '"':
				quot = 0
			case c == '\\' && i+1 < len(rs) && strings.ContainsRune(`"\$`+"`", rs[i+1]):
				i++
				cur.WriteRune(rs[i])
			default:
				cur.WriteRune(c)
			}
		case c == '\'' || c == '"':
			quot, in = c, true
		case c == '\\' && i+1 < len(rs):
			i++
			cur.WriteRune(rs[i])
			in = true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		case c == '#' && !in:
			i = len(rs)
		default:
			cur.WriteRune(c)
			in = true
		}
	}
	if quot != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quot)
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}

// docRunner sends a doc's examples in order and keeps what later ones
// refer to: the id each collection last answered a POST with.
type docRunner struct {
	t         *testing.T
	base      string
	keyedBase func() string     // a server with an API key, started when first asked
	ids       map[string]string // collection path -> id of its last POST answer
	last      *docExample
	unchecked bool // the last request waits for an answer marker
	status    int
	body      []byte
}

// idPlaceholder is a path segment that stands for an id the doc created
// before: {id}, 6f1d..., 01a2....
var idPlaceholder = regexp.MustCompile(`^(\{[a-z_]+\}|[0-9a-zA-Z_-]*\.\.\.)$`)

func (r *docRunner) run(ex docExample) {
	t := r.t
	if !ex.request {
		if r.last == nil {
			t.Fatalf("%s: an answer with no request before it", ex.where)
		}
		r.unchecked = false
		r.check(*r.last, ex.status, ex.answer, ex.where)
		return
	}
	r.flush()
	segs := strings.Split(ex.path, "/")
	for i, s := range segs {
		q := ""
		if k := strings.IndexByte(s, '?'); k >= 0 {
			s, q = s[:k], s[k:]
		}
		if idPlaceholder.MatchString(s) {
			coll := strings.Join(segs[:i], "/")
			id, ok := r.ids[coll]
			if !ok {
				t.Fatalf("%s: %s: %s stands for an id, but no POST %s before it answered one", ex.where, ex.path, s, coll)
			}
			segs[i] = id + q
		}
	}
	path := strings.Join(segs, "/")
	var body io.Reader
	if ex.hasBody {
		body = strings.NewReader(ex.body)
	}
	base := r.base
	if ex.keyed {
		base = r.keyedBase()
	}
	req, err := http.NewRequest(ex.method, base+path, body)
	if err != nil {
		t.Fatalf("%s: %v", ex.where, err)
	}
	for k, v := range ex.header {
		req.Header[k] = v
	}
	if ex.hasBody && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %s %s: %v", ex.where, ex.method, path, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r.last, r.status, r.body = &ex, resp.StatusCode, b
	if ex.method == "POST" && resp.StatusCode < 300 {
		var m struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(b, &m) == nil && m.ID != "" {
			r.ids[strings.SplitN(ex.path, "?", 2)[0]] = m.ID
		}
	}
	if ex.answer != "" || ex.status != 0 {
		r.check(ex, ex.status, ex.answer, ex.where)
	} else {
		r.unchecked = true // unless an answer marker follows, a success
	}
}

// flush checks the last request, shown with no answer, succeeded.
func (r *docRunner) flush() {
	if r.unchecked && r.status >= 300 {
		r.t.Errorf("%s: %s %s: status %d, where the doc shows no error: %s", r.last.where, r.last.method, r.last.path, r.status, r.body)
	}
	r.unchecked = false
}

func (r *docRunner) check(req docExample, status int, answer, where string) {
	t := r.t
	what := fmt.Sprintf("%s: %s %s", where, req.method, req.path)
	if status != 0 && r.status != status || status == 0 && r.status >= 300 {
		want := "2xx"
		if status != 0 {
			want = strconv.Itoa(status)
		}
		t.Errorf("%s: status %d, the doc shows %s: %s", what, r.status, want, r.body)
		return
	}
	switch {
	case answer == "":
	case strings.HasPrefix(answer, "{") || strings.HasPrefix(answer, "["):
		p := &elidedParser{s: answer}
		want, err := p.value()
		if err != nil {
			t.Fatalf("%s: the doc's answer does not read: %v: %s", where, err, answer)
		}
		var got any
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Errorf("%s: the answer is not JSON: %v: %s", what, err, r.body)
			return
		}
		if diff := want.match(got, "$"); diff != "" {
			t.Errorf("%s: the answer differs from the doc's: %s\n got: %s", what, diff, r.body)
		}
	case strings.HasPrefix(answer, "<"):
		if strings.Join(strings.Fields(answer), "") != strings.Join(strings.Fields(string(r.body)), "") {
			t.Errorf("%s: the answer differs from the doc's:\n got: %s\ndoc: %s", what, r.body, answer)
		}
	}
}

// pattern is an answer as a doc shows it, with its elisions.
type pattern interface {
	match(got any, path string) string // "" when got matches
}

type (
	anyPat    struct{}
	timePat   struct{} // a time in a doc stands for any time
	exactPat  struct{ v any }
	prefixPat struct{ p string }
	idPat     struct{ p string } // an id's first characters: matched by shape
	objPat    struct {
		keys []string
		vals map[string]pattern
		rest bool
	}
	arrPat struct {
		head, tail []pattern
		rest       bool
	}
)

func (anyPat) match(any, string) string { return "" }

func (timePat) match(got any, path string) string {
	if s, ok := got.(string); ok {
		if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return ""
		}
	}
	g, _ := json.Marshal(got)
	return fmt.Sprintf("%s is %s, the doc shows a time", path, g)
}

func (p exactPat) match(got any, path string) string {
	w, _ := json.Marshal(p.v)
	g, _ := json.Marshal(got)
	if string(w) != string(g) {
		return fmt.Sprintf("%s is %s, the doc shows %s", path, g, w)
	}
	return ""
}

func (p prefixPat) match(got any, path string) string {
	s, ok := got.(string)
	if !ok || !strings.HasPrefix(s, p.p) {
		g, _ := json.Marshal(got)
		return fmt.Sprintf("%s is %s, the doc shows a text beginning %q", path, g, p.p)
	}
	return ""
}

// idShape is the first characters of an id as docs write them: hex digits
// and dashes, after an optional prefix such as evt_.
var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

var idShape = regexp.MustCompile(`^([a-z]+_)?[0-9a-f-]*[0-9][0-9a-f-]*$`)

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

func (p idPat) match(got any, path string) string {
	s, ok := got.(string)
	bad := !ok || len(s) < len(p.p)
	for i := 0; !bad && i < len(p.p); i++ {
		c := p.p[i]
		bad = isHex(c) && !isHex(s[i]) || !isHex(c) && c != s[i]
	}
	if bad {
		g, _ := json.Marshal(got)
		return fmt.Sprintf("%s is %s, the doc shows an id like %q", path, g, p.p+"...")
	}
	return ""
}

func (p objPat) match(got any, path string) string {
	m, ok := got.(map[string]any)
	if !ok {
		g, _ := json.Marshal(got)
		return fmt.Sprintf("%s is %s, the doc shows an object", path, g)
	}
	for _, k := range p.keys {
		v, ok := m[k]
		if !ok {
			return fmt.Sprintf("%s has no %q, which the doc shows", path, k)
		}
		if d := p.vals[k].match(v, path+"."+k); d != "" {
			return d
		}
	}
	if !p.rest {
		for k := range m {
			if _, ok := p.vals[k]; !ok {
				return fmt.Sprintf("%s has %q, which the doc does not show (nor elides with ...)", path, k)
			}
		}
	}
	return ""
}

func (p arrPat) match(got any, path string) string {
	a, ok := got.([]any)
	if !ok {
		g, _ := json.Marshal(got)
		return fmt.Sprintf("%s is %s, the doc shows an array", path, g)
	}
	n := len(p.head) + len(p.tail)
	if len(a) < n || !p.rest && len(a) != n {
		return fmt.Sprintf("%s has %d items, the doc shows %d", path, len(a), n)
	}
	for i, e := range p.head {
		if d := e.match(a[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
			return d
		}
	}
	for i, e := range p.tail {
		k := len(a) - len(p.tail) + i
		if d := e.match(a[k], fmt.Sprintf("%s[%d]", path, k)); d != "" {
			return d
		}
	}
	return ""
}

// elidedParser reads JSON in which `...` may stand for a value, for the
// rest of an object's members or of an array's items; what follows the
// value (a comment) is ignored.
type elidedParser struct {
	s string
	i int
}

func (p *elidedParser) ws() {
	for p.i < len(p.s) && strings.ContainsRune(" \t\r\n", rune(p.s[p.i])) {
		p.i++
	}
}

func (p *elidedParser) dots() bool {
	p.ws()
	if strings.HasPrefix(p.s[p.i:], "...") {
		p.i += 3
		return true
	}
	return false
}

func (p *elidedParser) peek() byte {
	p.ws()
	if p.i >= len(p.s) {
		return 0
	}
	return p.s[p.i]
}

func (p *elidedParser) errf(format string, a ...any) error {
	return fmt.Errorf("at byte %d: %s", p.i, fmt.Sprintf(format, a...))
}

func (p *elidedParser) value() (pattern, error) {
	if p.dots() {
		return anyPat{}, nil
	}
	switch c := p.peek(); c {
	case '{':
		p.i++
		o := objPat{vals: map[string]pattern{}}
		for {
			if p.peek() == '}' {
				p.i++
				return o, nil
			}
			if p.dots() {
				o.rest = true
			} else {
				k, err := p.str()
				if err != nil {
					return nil, err
				}
				if p.peek() != ':' {
					return nil, p.errf("expected : after %q", k)
				}
				p.i++
				v, err := p.value()
				if err != nil {
					return nil, err
				}
				if k == "..." { // "...": "...", the rest of the members
					o.rest = true
				} else {
					o.keys = append(o.keys, k)
					o.vals[k] = v
				}
			}
			switch p.peek() {
			case ',':
				p.i++
			case '}':
			case '"':
				if !o.rest {
					return nil, p.errf("expected , or }")
				}
			default:
				return nil, p.errf("expected , or }")
			}
		}
	case '[':
		p.i++
		a := arrPat{}
		for {
			if p.peek() == ']' {
				p.i++
				return a, nil
			}
			if p.dots() {
				a.rest = true
			} else {
				v, err := p.value()
				if err != nil {
					return nil, err
				}
				if a.rest {
					a.tail = append(a.tail, v)
				} else {
					a.head = append(a.head, v)
				}
			}
			switch p.peek() {
			case ',':
				p.i++
			case ']':
			default:
				return nil, p.errf("expected , or ]")
			}
		}
	case '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		if s == "..." {
			return anyPat{}, nil
		}
		if uuidRe.MatchString(s) {
			return idPat{s}, nil
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return timePat{}, nil
		}
		if pre, ok := strings.CutSuffix(s, "..."); ok {
			if idShape.MatchString(pre) {
				return idPat{pre}, nil
			}
			return prefixPat{strings.TrimRight(pre, " ")}, nil
		}
		return exactPat{s}, nil
	default:
		dec := json.NewDecoder(strings.NewReader(p.s[p.i:]))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, p.errf("%v", err)
		}
		p.i += int(dec.InputOffset())
		if n, ok := v.(json.Number); ok {
			f, _ := n.Float64()
			return exactPat{f}, nil
		}
		return exactPat{v}, nil
	}
}

func (p *elidedParser) str() (string, error) {
	if p.peek() != '"' {
		return "", p.errf("expected a string")
	}
	dec := json.NewDecoder(strings.NewReader(p.s[p.i:]))
	var s string
	if err := dec.Decode(&s); err != nil {
		return "", p.errf("%v", err)
	}
	p.i += int(dec.InputOffset())
	return s, nil
}
