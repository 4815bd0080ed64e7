package flows

import "testing"

// hindiResults are ten results with Hindi names, each under its key, as a
// session of a flow written in Hindi holds them.
func hindiResults() map[string]*Result {
	names := []string{"उम्र", "नाम", "शहर", "पसंदीदा रंग", "जन्म तिथि", "फ़ोन नंबर", "भाषा", "व्यवसाय", "शिक्षा", "राज्य"}
	results := map[string]*Result{}
	for _, n := range names {
		results[Key(n)] = &Result{Name: n, Value: "x"}
	}
	return results
}

// BenchmarkLookupResultMissing measures looking up a result a flow with ten
// Hindi result names has not set yet, as has_category and @results do.
func BenchmarkLookupResultMissing(b *testing.B) {
	results := hindiResults()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := LookupResult(results, "पिन कोड"); ok {
			b.Fatal("found")
		}
	}
}

// BenchmarkRekeyResults measures RekeyResults on a session just decoded
// whose ten Hindi-named results are under their keys already.
func BenchmarkRekeyResults(b *testing.B) {
	s := &Session{Frames: []*Frame{{FlowID: "f", Results: hindiResults()}}}
	b.ReportAllocs()
	for b.Loop() {
		s.RekeyResults()
	}
	if len(s.Frames[0].Results) != 10 {
		b.Fatal("results lost")
	}
}
