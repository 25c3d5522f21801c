// Command ingest measures how fast timeback serve stores events: events per
// second and p50/p99 request latency for envelopes of several sizes, from
// one and from many concurrent clients over loopback HTTP. Next to it, in
// the same run and on the same disk, a bare program inserts the same rows
// into SQLite in batches.
//
//	go run ./bench/ingest -duration 5s
//
// The server runs in this process on 127.0.0.1:0 with the same SQLite
// settings as timeback serve (WAL, synchronous FULL), so clients and server
// share the machine's cores as they would on one host.
package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/timeback/timeback-go/caliper"
	"github.com/timeback/timeback-go/endpoint"
	"github.com/timeback/timeback-go/facts/sqlfacts"
	"github.com/timeback/timeback-go/sqlite"
)

const eventTemplate = `{"@context":"http://purl.imsglobal.org/ctx/caliper/v1p2","id":"%s",` +
	`"type":"TimeSpentEvent","action":"SpentTime","profile":"TimebackProfile",` +
	`"eventTime":"%s",` +
	`"actor":{"id":"https://api.example.com/ims/oneroster/rostering/v1p2/users/student-%d",` +
	`"type":"TimebackUser","email":"student-%d@example.com"},` +
	`"object":{"id":"https://myapp.example.com/activities/Math/g3/lesson-1",` +
	`"type":"TimebackActivityContext","subject":"Math","app":{"name":"My App"}},` +
	`"generated":{"id":"https://api.example.com/ims/metrics/collections/time-spent/def-456",` +
	`"type":"TimebackTimeSpentMetricsCollection","items":[` +
	`{"type":"active","value":15,"startDate":"%s","endDate":"%s"},` +
	`{"type":"inactive","value":0}]},` +
	`"extensions":{"runId":"f47ac10b-58cc-4372-a567-%012d","courseId":"MATH-3"}}`

// heartbeatsPerRun is how many consecutive 15 s windows one run of one
// student gets before the next run starts, as in a 10-minute activity.
const heartbeatsPerRun = 40

// eventSource hands out heartbeats with ids unique within the program's
// run. Event n belongs to run n/heartbeatsPerRun and covers the next 15 s
// window of that run, so facts see runs of realistic length without
// overlapping windows.
type eventSource struct{ next atomic.Int64 }

func (s *eventSource) event() (id string, raw []byte) {
	n := s.next.Add(1)
	id = fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012d", n)
	run := n / heartbeatsPerRun
	start := time.Date(2026, 1, 27, 10, 0, 0, 0, time.UTC).Add(time.Duration(n%heartbeatsPerRun) * 15 * time.Second)
	end := start.Add(15 * time.Second)
	return id, fmt.Appendf(nil, eventTemplate, id, stamp(end), run%500, run%500, stamp(start), stamp(end), run)
}

func stamp(t time.Time) string { return t.Format("2006-01-02T15:04:05.000Z") }

func (s *eventSource) envelope(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"sensor":"https://myapp.example.com/sensor","sendTime":"2026-01-27T10:03:01.000Z",` +
		`"dataVersion":"http://purl.imsglobal.org/ctx/caliper/v1p2","data":[`)
	for i := range size {
		if i > 0 {
			b.WriteByte(',')
		}
		_, raw := s.event()
		b.Write(raw)
	}
	b.WriteString("]}")
	return b.Bytes()
}

type result struct {
	name     string
	events   int64
	requests int64
	elapsed  time.Duration
	p50, p99 time.Duration
	errors   int64
}

func (r result) rate() float64 { return float64(r.events) / r.elapsed.Seconds() }

func main() {
	duration := flag.Duration("duration", 5*time.Second, "how long each measurement runs")
	sizesFlag := flag.String("sizes", "1,10,100", "comma-separated events per envelope")
	clientsFlag := flag.String("clients", "1,16", "comma-separated numbers of concurrent clients")
	dir := flag.String("dir", "", "folder for the database files; empty means a new temporary folder")
	rounds := flag.Int("rounds", 3, "rounds per table row; the round with the median ratio is reported")
	withFacts := flag.Bool("facts", true, "keep learning facts on ingest, as timeback serve does by default")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this `file`")
	flag.Parse()

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fail("%v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail("%v", err)
		}
		defer pprof.StopCPUProfile()
	}

	sizes, err := parseInts(*sizesFlag)
	if err != nil {
		fail("invalid -sizes: %v", err)
	}
	clients, err := parseInts(*clientsFlag)
	if err != nil {
		fail("invalid -clients: %v", err)
	}
	if *rounds < 1 {
		fail("invalid -rounds %d: use 1 or more", *rounds)
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "timeback-bench-")
		if err != nil {
			fail("%v", err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}

	fmt.Printf("go %s, %s/%s, %d CPUs, %v per measurement, %d rounds, facts %v, databases in %s\n\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), *duration, *rounds, *withFacts, *dir)
	fmt.Println("| envelope | clients | server events/s | p50 | p99 | bare insert events/s | ratio |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|")
	run := 0
	for _, size := range sizes {
		for _, n := range clients {
			// Each round measures the bare loop right before the server,
			// so that both see the same load from other programs. The
			// round with the median ratio is reported.
			var pairs []pair
			for range *rounds {
				run++
				bare, err := benchBare(filepath.Join(*dir, fmt.Sprintf("bare-%d.db", run)), size, *duration)
				if err != nil {
					fail("bare insert of %d-row batches: %v", size, err)
				}
				r, err := benchServer(filepath.Join(*dir, fmt.Sprintf("serve-%d.db", run)), size, n, *duration, *withFacts)
				if err != nil {
					fail("server with %d-event envelopes, %d clients: %v", size, n, err)
				}
				if r.errors > 0 {
					fmt.Fprintf(os.Stderr, "%s: %d requests failed\n", r.name, r.errors)
				}
				pairs = append(pairs, pair{server: r, bare: bare})
				removeDB(filepath.Join(*dir, fmt.Sprintf("bare-%d.db", run)))
				removeDB(filepath.Join(*dir, fmt.Sprintf("serve-%d.db", run)))
			}
			slices.SortFunc(pairs, func(a, b pair) int { return cmp.Compare(a.ratio(), b.ratio()) })
			m := pairs[len(pairs)/2]
			fmt.Printf("| %d | %d | %.0f | %s | %s | %.0f | %.2f |\n", size, n, m.server.rate(),
				round(m.server.p50), round(m.server.p99), m.bare.rate(), m.ratio())
		}
	}
}

// pair is one round of a table row: the server and the bare loop measured
// back to back.
type pair struct{ server, bare result }

func (p pair) ratio() float64 { return p.server.rate() / p.bare.rate() }

// benchServer posts envelopes of size events from clients goroutines to an
// endpoint on loopback for d.
func benchServer(path string, size, clients int, d time.Duration, withFacts bool) (result, error) {
	ctx := context.Background()
	cfg := sqlite.Config{}
	if withFacts {
		cfg.Facts = sqlfacts.Writer{}
	}
	store, err := sqlite.Open(ctx, path, cfg)
	if err != nil {
		return result{}, err
	}
	defer store.Close()
	if withFacts {
		if err := sqlfacts.Migrate(ctx, store.DB()); err != nil {
			return result{}, err
		}
	}
	h, err := endpoint.New(endpoint.Config{Store: store})
	if err != nil {
		return result{}, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer func() {
		srv.Shutdown(ctx)
		h.Close()
	}()

	target := "http://" + ln.Addr().String() + "/caliper/event"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	var src eventSource
	var events, requests, errs atomic.Int64
	latencies := make([][]time.Duration, clients)
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				body := src.envelope(size)
				t0 := time.Now()
				resp, err := client.Post(target, "application/json", bytes.NewReader(body))
				if err != nil {
					errs.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs.Add(1)
					continue
				}
				latencies[c] = append(latencies[c], time.Since(t0))
				requests.Add(1)
				events.Add(int64(size))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	all := slices.Concat(latencies...)
	slices.Sort(all)
	r := result{name: fmt.Sprintf("server %d x %d", size, clients), events: events.Load(),
		requests: requests.Load(), elapsed: elapsed, errors: errs.Load()}
	if len(all) > 0 {
		r.p50 = all[len(all)/2]
		r.p99 = all[len(all)*99/100]
	}
	return r, nil
}

// benchBare inserts rows of the event store's schema in transactions of
// size rows from one goroutine for d: the work a store must do at least,
// without HTTP, validation or duplicate checks.
func benchBare(path string, size int, d time.Duration) (result, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(5000)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return result{}, err
	}
	defer db.Close()
	for _, stmt := range sqlite.Migrations() {
		if _, err := db.Exec(stmt); err != nil {
			return result{}, err
		}
	}

	var src eventSource
	var events int64
	deadline := time.Now().Add(d)
	start := time.Now()
	for time.Now().Before(deadline) {
		tx, err := db.Begin()
		if err != nil {
			return result{}, err
		}
		stmt, err := tx.Prepare(`INSERT INTO events (id, type, action, profile, sensor, event_time,
			actor_id, actor_email, object_id, job_id, stored, digest, json)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			tx.Rollback()
			return result{}, err
		}
		for range size {
			id, raw := src.event()
			canonical, err := caliper.Canonical(raw)
			if err != nil {
				tx.Rollback()
				return result{}, err
			}
			digest := sha256.Sum256(canonical)
			n := events % 500
			if _, err := stmt.Exec(id, "TimeSpentEvent", "SpentTime", "TimebackProfile",
				"https://myapp.example.com/sensor", int64(1769508015000),
				fmt.Sprintf("https://api.example.com/ims/oneroster/rostering/v1p2/users/student-%d", n),
				fmt.Sprintf("student-%d@example.com", n), "https://myapp.example.com/activities/Math/g3/lesson-1",
				"bare", time.Now().UnixMilli(), digest[:], raw); err != nil {
				tx.Rollback()
				return result{}, err
			}
			events++
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			return result{}, err
		}
	}
	return result{name: fmt.Sprintf("bare %d", size), events: events, elapsed: time.Since(start)}, nil
}

// removeDB deletes a measured database and its WAL files, so that a long
// run does not fill the disk.
func removeDB(path string) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive whole number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func round(d time.Duration) string {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ingest: "+format+"\n", args...)
	os.Exit(1)
}
