package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/timeback/timeback-go"
)

// BenchmarkHeartbeat measures one heartbeat through the handler: resolve,
// decode, guard, build the TimeSpentEvent and hand it to an in-memory sink.
// Each goroutine drives its own run, as browsers do; parallelism p runs p
// goroutines per GOMAXPROCS.
func BenchmarkHeartbeat(b *testing.B) {
	for _, parallel := range []int{1, 16} {
		b.Run(fmt.Sprintf("parallelism=%d", parallel), func(b *testing.B) {
			x := newHarness(b, func(c *Config) { c.Sink = discardSink{} })
			var clock atomic.Int64
			x.h.cfg.Now = func() time.Time { return testStart.Add(time.Duration(clock.Add(int64(time.Second)))) }
			b.SetParallelism(parallel)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				id := x.mustStart()
				seq := int64(0)
				for pb.Next() {
					seq++
					body := fmt.Sprintf(`{"runId":%q,"seq":%d,"activeMs":900,"inactiveMs":0}`, id, seq)
					req := httptest.NewRequest("POST", DefaultPrefix+"/activity/heartbeat", strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("X-Student", ann.Email)
					rec := httptest.NewRecorder()
					x.h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
				}
			})
		})
	}
}

type discardSink struct{}

func (discardSink) Send(context.Context, ...timeback.Event) error { return nil }
