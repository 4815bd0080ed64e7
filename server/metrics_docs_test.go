package server

import (
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetricsDocumented: /metrics is valid Prometheus text (parsed as
// Prometheus parses it), every parley_ family it exports is named in
// docs/api.md or docs/events.md with the labels it has, and every parley_
// metric those docs name is exported.
func TestMetricsDocumented(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createFlow(askFlow)
	r := ts.must(201, "POST", "/v1/sessions", map[string]any{"flow": "ask"})
	ts.must(200, "POST", "/v1/sessions/"+r["id"].(string)+"/resume", map[string]any{"text": "Ana"})
	base := ts.listen()

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q; want the Prometheus text format", ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not valid Prometheus text: %v", err)
	}

	var doc strings.Builder
	for _, f := range []string{"../docs/api.md", "../docs/events.md"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc.Write(b)
	}
	// Each mention of a name, with its labels when the docs give them:
	// parley_sessions_ended_total{status}; `_disabled` after a name is
	// the same prefix with that suffix.
	documented := map[string][][]string{}
	ref := regexp.MustCompile("`(parley_[a-z_]+)(\\{([a-z_,]+)\\})?`( and `(_[a-z_]+)`)?")
	for _, m := range ref.FindAllStringSubmatch(doc.String(), -1) {
		name := m[1]
		documented[name] = append(documented[name], labelList(m[3]))
		if m[5] != "" {
			sibling := name[:strings.LastIndex(name, "_")] + m[5]
			documented[sibling] = append(documented[sibling], nil)
		}
	}

	for name, f := range families {
		if !strings.HasPrefix(name, "parley_") {
			continue
		}
		mentions, ok := documented[name]
		if !ok {
			t.Errorf("%s (%s) is exported but neither docs/api.md nor docs/events.md names it", name, f.GetType())
			continue
		}
		if strings.HasSuffix(name, "_total") && f.GetType() != dto.MetricType_COUNTER {
			t.Errorf("%s is a %s; a _total name is a counter", name, f.GetType())
		}
		if len(f.GetMetric()) == 0 {
			continue
		}
		var got []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			got = append(got, l.GetName())
		}
		sort.Strings(got)
		labelled := false
		for _, want := range mentions {
			if want == nil {
				continue
			}
			labelled = true
			if !slices.Equal(got, want) {
				t.Errorf("%s has the labels %v; the docs give it {%s}", name, got, strings.Join(want, ","))
			}
		}
		if len(got) > 0 && !labelled {
			t.Errorf("%s has the labels %v, which the docs do not name", name, got)
		}
	}
	for name := range documented {
		if _, ok := families[name]; !ok {
			t.Errorf("the docs name %s, which /metrics does not export", name)
		}
	}
}

func labelList(s string) []string {
	if s == "" {
		return nil
	}
	l := strings.Split(s, ",")
	sort.Strings(l)
	return l
}
