package sender_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/sender"
)

// BenchmarkSend measures Send with 1 and 16 goroutines, on the durable
// SQLite outbox and on the memory queue with the same batching, while the
// background sender delivers to a loopback endpoint that accepts
// everything. Each op is one Send call of 1 or 10 events. It reports
// events/s, the p50 and p99 latency of Send and, on Unix, the CPU time per
// event and the cores in use.
//
//	go test -run '^$' -bench BenchmarkSend -benchtime 20000x ./sender
func BenchmarkSend(b *testing.B) {
	for _, queue := range []string{"sqlite", "memory"} {
		for _, goroutines := range []int{1, 16} {
			for _, perCall := range []int{1, 10} {
				name := queue + "/goroutines=" + strconv.Itoa(goroutines) + "/events=" + strconv.Itoa(perCall)
				b.Run(name, func(b *testing.B) {
					benchmarkSend(b, queue, goroutines, perCall)
				})
			}
		}
	}
}

func benchmarkSend(b *testing.B, queue string, goroutines, perCall int) {
	accept := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"jobId":"j"}`)
	}))
	defer accept.Close()
	cfg := sender.Config{
		Environment:    accept.URL,
		OutboxPath:     filepath.Join(b.TempDir(), "outbox.db"),
		MaxQueueEvents: 100_000_000,
	}
	if queue == "memory" {
		cfg.Queue = sender.NewMemoryQueue()
	}
	c, err := sender.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(context.Background())

	events := make([]timeback.Event, 1000+perCall)
	for i := range events {
		events[i] = newEvent(b, i)
	}
	latencies := make([][]time.Duration, goroutines)
	ctx := context.Background()
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0 := processCPU()
	start := time.Now()
	for g := range goroutines {
		n := b.N / goroutines
		if g < b.N%goroutines {
			n++
		}
		latencies[g] = make([]time.Duration, 0, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				t0 := time.Now()
				first := (g*n + i) % 1000
				if err := c.Send(ctx, events[first:first+perCall]...); err != nil {
					b.Error(err)
					return
				}
				latencies[g] = append(latencies[g], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	// The CPU time of the whole process counts the background sender and
	// the endpoint too. With the cores in use, it separates a change that
	// saves work from one that changes how much runs in parallel.
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*perCall), "cpu-us/event")
		b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "cores")
	}

	all := slices.Concat(latencies...)
	slices.Sort(all)
	if len(all) > 0 {
		p99 := all[min(len(all)-1, len(all)*99/100)]
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	}
	b.ReportMetric(float64(len(all)*perCall)/elapsed.Seconds(), "events/s")
}
