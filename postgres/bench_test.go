package postgres_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/internal/storetest"
	"github.com/timeback/timeback-go/internal/testkit"
	"github.com/timeback/timeback-go/postgres"
)

// benchEvents is the size of one envelope and benchGroup the envelopes one
// Append commits together, as the endpoint's group commit would.
const (
	benchEvents = 100
	benchGroup  = 4
)

// benchBatches returns n envelopes of heartbeats, each with an active and
// an inactive item, spread over 20 students and their runs.
func benchBatches(b *testing.B, n int) []*timeback.Batch {
	var out []*timeback.Batch
	id := 0
	for i := range n {
		var events [][]byte
		for range benchEvents {
			id++
			student := id % 20
			start := day.Add(time.Duration(id/20) * 15 * time.Second)
			events = append(events, storetest.Heartbeat(storetest.EventID(id), storetest.Student(student),
				fmt.Sprintf("run-%d", student), start, start.Add(15*time.Second), 11, 4))
		}
		out = append(out, storetest.NewBatch(b, fmt.Sprintf("job-%d", i), storetest.Sensor, events...))
	}
	return out
}

// BenchmarkIngest measures, in one run and alternating group by group so
// that both see the same load, the store's Append (id checks, events, jobs
// and facts) and a bare COPY of the same event rows into the same events
// table of another schema, one transaction per group, without idempotency
// checks, jobs or facts. It reports both rates and their ratio.
func BenchmarkIngest(b *testing.B) {
	url := testkit.PostgresURL(b)
	s := openStore(b, url, testkit.PostgresSchema(b, url), postgres.Config{})
	bare := testkit.PostgresSchema(b, url)
	openStore(b, url, bare, postgres.Config{}) // creates the tables
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		b.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = bare
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	batches := benchBatches(b, b.N*benchGroup)
	ctx := context.Background()

	var storeTime, copyTime time.Duration
	b.ResetTimer()
	for i := range b.N {
		group := batches[i*benchGroup : (i+1)*benchGroup]
		start := time.Now()
		res, err := s.Append(ctx, group)
		if err != nil {
			b.Fatal(err)
		}
		storeTime += time.Since(start)
		if res[0].Err != nil || res[0].Stored != benchEvents {
			b.Fatalf("append: %+v", res[0])
		}
		start = time.Now()
		bareCopy(b, pool, group)
		copyTime += time.Since(start)
	}
	b.StopTimer()
	events := float64(b.N * benchGroup * benchEvents)
	b.ReportMetric(events/storeTime.Seconds(), "facts-events/s")
	b.ReportMetric(events/copyTime.Seconds(), "copy-events/s")
	b.ReportMetric(copyTime.Seconds()/storeTime.Seconds(), "ratio")
}

var eventFields = []string{"id", "type", "action", "profile", "sensor", "event_time", "actor_id",
	"actor_email", "object_id", "job_id", "stored", "digest", "json"}

func bareCopy(b *testing.B, pool *pgxpool.Pool, group []*timeback.Batch) {
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, bt := range group {
		now := time.Now()
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, eventFields,
			pgx.CopyFromSlice(len(bt.Events), func(k int) ([]any, error) {
				ev := bt.Events[k]
				info := ev.Item.Event
				sum := sha256.Sum256(ev.Canonical)
				return []any{ev.Item.ID, ev.Item.Type, info.Action, info.Profile, bt.Sensor, info.EventTime,
					info.ActorID, info.ActorEmail, info.ObjectID, bt.JobID, now, sum[:], []byte(ev.Item.Raw)}, nil
			}))
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
}
