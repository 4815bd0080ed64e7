package delivery

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	e := newEnv(b, nil)
	// The cached snapshot, as the dispatcher sends with.
	sub := e.svc.sub(e.create(Subscription{URL: srv.URL}).ID)
	payload := []byte(`{"type":"session.updated","id":"evt_1","data":{}}`)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ex := e.svc.send(context.Background(), sub, "evt_1", payload)
			if !ex.success() {
				b.Fatal(ex.attempt.Error)
			}
		}
	})
}
