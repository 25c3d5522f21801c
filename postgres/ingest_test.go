package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/facts"
	"github.com/timeback/timeback-go/internal/storetest"
	"github.com/timeback/timeback-go/internal/testkit"
	"github.com/timeback/timeback-go/postgres"
)

var day = time.Date(2026, 1, 27, 9, 0, 0, 0, time.UTC)

// stream returns envelopes of heartbeats for students and runs, each run
// completed at its end. Every third heartbeat is sent again under a new id
// in a later envelope, as a client that lost an acknowledgement might.
func stream(t testing.TB, students, runs, beats int) (batches []*timeback.Batch, wantActive float64) {
	n := 0
	next := func() string { n++; return storetest.EventID(n) }
	for s := range students {
		for r := range runs {
			run := fmt.Sprintf("run-%d-%d", s, r)
			start := day.Add(time.Duration(r) * time.Hour)
			var events, resent [][]byte
			for b := range beats {
				from := start.Add(time.Duration(b) * 15 * time.Second)
				events = append(events, storetest.Heartbeat(next(), storetest.Student(s), run, from,
					from.Add(15*time.Second), 12, 3))
				wantActive += 12
				if b%3 == 0 {
					resent = append(resent, storetest.Heartbeat(next(), storetest.Student(s), run, from,
						from.Add(15*time.Second), 12, 3))
				}
			}
			end := start.Add(time.Duration(beats) * 15 * time.Second)
			resent = append(resent, storetest.Completed(next(), storetest.Student(s), run, end, 1, 10, 9))
			batches = append(batches,
				storetest.NewBatch(t, fmt.Sprintf("job-%s-a", run), storetest.Sensor, events...),
				storetest.NewBatch(t, fmt.Sprintf("job-%s-b", run), storetest.Sensor, resent...))
		}
	}
	return batches, wantActive
}

// withJobIDs copies batches under new job ids, as a second server gives
// its own job ids to the same envelopes.
func withJobIDs(batches []*timeback.Batch, prefix string) []*timeback.Batch {
	out := make([]*timeback.Batch, len(batches))
	for i, b := range batches {
		c := *b
		c.JobID = prefix + b.JobID
		out[i] = &c
	}
	return out
}

func totals(t *testing.T, src facts.Source) (facts.Totals, []facts.Run) {
	t.Helper()
	ws, cs, err := src.Facts(context.Background(), facts.Query{})
	if err != nil {
		t.Fatal(err)
	}
	r := facts.Range{From: facts.DateOf(day), To: facts.DateOf(day), Loc: time.UTC}
	days := facts.Daily(r, ws, cs)
	return days[0].Totals, facts.Runs(ws, cs)
}

// TestTwoServersOneStream ingests the same stream through two stores on one
// database at once, as two timeback serve processes would, and checks that
// every event is stored once and every fact counted once.
func TestTwoServersOneStream(t *testing.T) {
	url := testkit.PostgresURL(t)
	schema := testkit.PostgresSchema(t, url)
	a := openStore(t, url, schema, postgres.Config{})
	b := openStore(t, url, schema, postgres.Config{})
	const students, runs, beats = 3, 4, 12
	batches, wantActive := stream(t, students, runs, beats)

	var wg sync.WaitGroup
	errs := make(chan error, 2*len(batches))
	for i, s := range []*postgres.Store{a, b} {
		mine := withJobIDs(batches, fmt.Sprintf("server-%d-", i))
		wg.Go(func() {
			// Groups of three envelopes per Append, as the endpoint's group
			// commit forms them; the second server walks the stream backwards.
			for j := 0; j < len(mine); j += 3 {
				k := j
				if i == 1 {
					k = len(mine) - 3 - j
				}
				res, err := s.Append(context.Background(), mine[max(k, 0):k+3])
				if err != nil {
					errs <- err
					return
				}
				for _, r := range res {
					if r.Err != nil {
						errs <- r.Err
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("append: %v", err)
	}

	wantEvents := 0
	for _, bt := range batches {
		wantEvents += len(bt.Events)
	}
	page, err := a.Events(context.Background(), timeback.EventQuery{Limit: timeback.MaxEventLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != wantEvents {
		t.Errorf("stored %d events, want %d", len(page.Events), wantEvents)
	}
	got, rs := totals(t, a)
	if math.Abs(got.ActiveSeconds-wantActive) > 1e-6 {
		t.Errorf("active seconds = %v, want %v", got.ActiveSeconds, wantActive)
	}
	if math.Abs(got.InactiveSeconds-wantActive/4) > 1e-6 {
		t.Errorf("inactive seconds = %v, want %v", got.InactiveSeconds, wantActive/4)
	}
	if got.Completions != students*runs || got.XP != students*runs {
		t.Errorf("completions, XP = %d, %v; want %d, %d", got.Completions, got.XP, students*runs, students*runs)
	}
	if len(rs) != students*runs {
		t.Fatalf("got %d runs, want %d", len(rs), students*runs)
	}
	for _, r := range rs {
		if len(r.Flags) != 0 || r.WallSeconds != beats*15 {
			t.Errorf("run %s: flags %v, wall %v s; want none and %d s", r.RunID, r.Flags, r.WallSeconds, beats*15)
		}
	}
}

// proxy forwards TCP connections to a PostgreSQL server and can cut them,
// standing in for a database that goes away.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns []net.Conn
	// cutOn, when set, cuts every connection once a client sends it.
	cutOn []byte
}

func startProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go p.forward(s, c, true)
		go p.forward(c, s, false)
	}
}

func (p *proxy) forward(dst, src net.Conn, fromClient bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if fromClient {
				p.mu.Lock()
				trigger := p.cutOn != nil && bytes.Contains(buf[:n], p.cutOn)
				p.mu.Unlock()
				if trigger {
					p.cut()
					return
				}
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				dst.Close()
			}
			return
		}
	}
}

// cut closes every connection and refuses new ones until restore.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	p.cutOn = nil
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

func (p *proxy) cutWhenClientSends(b []byte) {
	p.mu.Lock()
	p.cutOn = b
	p.mu.Unlock()
}

// TestDatabaseGoesAway cuts the connection in the middle of an append's
// transaction, after its events are inserted and while its facts are
// copied, and checks that the append fails as unavailable, leaves nothing,
// and succeeds once the database is back.
func TestDatabaseGoesAway(t *testing.T) {
	raw := testkit.PostgresURL(t)
	schema := testkit.PostgresSchema(t, raw)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	direct := openStore(t, raw, schema, postgres.Config{})
	p := startProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	s := openStore(t, u.String(), schema, postgres.Config{})
	ctx := context.Background()

	batches, _ := stream(t, 1, 2, 8)
	if res, err := s.Append(ctx, batches[:1]); err != nil || res[0].Err != nil {
		t.Fatalf("first append: %v, %v", err, res)
	}

	p.cutWhenClientSends([]byte("fact_spans"))
	_, err = s.Append(ctx, batches[2:3])
	if code := timeback.ErrorCode(err); code != timeback.CodeUnavailable {
		t.Fatalf("append while the database went away: err = %v (code %q), want code unavailable", err, code)
	}
	if _, err := direct.Event(ctx, batches[2].Events[0].Item.ID); !errors.Is(err, timeback.ErrEventNotFound) {
		t.Errorf("event of the failed append: err = %v, want ErrEventNotFound", err)
	}
	if _, err := s.Append(ctx, batches[2:3]); timeback.ErrorCode(err) != timeback.CodeUnavailable {
		t.Errorf("append while the database is away: err = %v, want code unavailable", err)
	}

	p.restore()
	res, err := s.Append(ctx, batches[2:3])
	if err != nil || res[0].Err != nil || res[0].Stored != len(batches[2].Events) {
		t.Fatalf("append after the database came back: %v, %+v", err, res)
	}
	got, _ := totals(t, direct)
	if want := float64(2 * 8 * 12); math.Abs(got.ActiveSeconds-want) > 1e-6 {
		t.Errorf("active seconds = %v, want %v", got.ActiveSeconds, want)
	}
}
