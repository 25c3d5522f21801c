package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/sender"
	"github.com/timeback/timeback-go/tracker"
)

const demoUsage = `Usage: timeback demo [flags]

Runs a simulated student through two activities end to end. It starts
timeback serve on 127.0.0.1 with a SQLite file in a temporary folder, sends
every event through the activity tracker, the durable outbox and HTTP, then
prints what the server stored per run. The student's clock is simulated, so
a day of activity takes about a second. Nothing is left on disk.

Flags:
`

// demoStartTimeout bounds the wait for the in-process server to listen, and
// demoCloseTimeout the sender's delivery of what is left when the demo stops.
const (
	demoStartTimeout = 30 * time.Second
	demoCloseTimeout = 5 * time.Second
)

// The simulated student and activities.
var (
	demoStudent = timeback.User{
		ID:    "https://api.example.com/ims/oneroster/rostering/v1p2/users/student-123",
		Email: "student-123@example.com",
	}
	demoFractions = demoActivity{
		title:    "Fractions",
		courseID: "MATH-3",
		object: timeback.ActivityContext{
			ID:       "https://myapp.example.com/activities/Math/g3/fractions",
			Subject:  timeback.SubjectMath,
			AppName:  "timeback demo",
			Course:   &timeback.Named{Name: "Math grade 3"},
			Activity: &timeback.Named{Name: "Fractions"},
		},
	}
	demoMainIdea = demoActivity{
		title:    "Main idea",
		courseID: "READ-3",
		object: timeback.ActivityContext{
			ID:       "https://myapp.example.com/activities/Reading/g3/main-idea",
			Subject:  timeback.SubjectReading,
			AppName:  "timeback demo",
			Course:   &timeback.Named{Name: "Reading grade 3"},
			Activity: &timeback.Named{Name: "Main idea"},
		},
	}
)

type demoActivity struct {
	title    string
	courseID string
	object   timeback.ActivityContext
}

func runDemo(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprint(e.stderr, demoUsage)
		fs.PrintDefaults()
	}
	keep := fs.Bool("keep", false, "leave the server running after the demo and print its URL; Ctrl-C stops it")
	verbose := fs.Bool("verbose", false, "show the server's and the sender's logs on standard error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "timeback demo: unexpected argument %q: the demo takes flags only\n", fs.Arg(0))
		return exitUsage
	}

	if err := demo(ctx, e, *keep, *verbose); err != nil {
		if ctx.Err() != nil {
			// The error is the cancellation seen by whichever step ran.
			fmt.Fprintln(e.stderr, "timeback demo: interrupted")
			return exitFailure
		}
		fmt.Fprintf(e.stderr, "timeback demo: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func demo(ctx context.Context, e env, keep, verbose bool) (err error) {
	dir, err := os.MkdirTemp("", "timeback-demo-")
	if err != nil {
		return fmt.Errorf("create a temporary folder: %w", err)
	}
	defer func() {
		if rmErr := os.RemoveAll(dir); rmErr != nil && err == nil {
			err = fmt.Errorf("remove the temporary folder: %w", rmErr)
		}
	}()

	logLevel := slog.LevelError
	if verbose {
		logLevel = slog.LevelInfo
	}
	logs := slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: logLevel})

	srv, err := startDemoServer(ctx, dir, logs)
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := srv.stop(); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	fmt.Fprintf(e.stdout, "Server: timeback serve at %s, SQLite in a temporary folder\n", srv.url)

	client, err := sender.New(sender.Config{
		Environment: srv.url,
		Token:       srv.token,
		OutboxPath:  filepath.Join(dir, "outbox.db"),
		Logger:      slog.New(logs),
	})
	if err != nil {
		return fmt.Errorf("start the sender: %w", err)
	}
	defer func() {
		// Close keeps sending until its context ends, so bound it for the
		// case where the demo fails with events still queued.
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), demoCloseTimeout)
		defer cancel()
		client.Close(closeCtx)
	}()

	sim := &simulation{
		out:    e.stdout,
		sink:   client,
		store:  tracker.FileStore{Dir: filepath.Join(dir, "runs")},
		logger: slog.New(logs),
	}
	if err := sim.run(ctx); err != nil {
		return err
	}
	if err := client.Flush(ctx); err != nil {
		return fmt.Errorf("deliver the events: %w", err)
	}
	if st := client.Stats(); st.DeadLettered > 0 {
		return fmt.Errorf("the server rejected %d events; run with --verbose to see why", st.DeadLettered)
	}

	runs, total, err := readDemoRuns(ctx, srv)
	if err != nil {
		return err
	}
	printDemoRuns(e.stdout, runs, total)
	if err := sim.check(runs); err != nil {
		return err
	}

	if keep {
		fmt.Fprintf(e.stdout, "\nThe server keeps running at %s until Ctrl-C. Try:\n", srv.url)
		fmt.Fprintf(e.stdout, "  curl -H 'Authorization: Bearer %s' '%s/caliper/events?limit=5'\n", srv.token, srv.url)
		select {
		case <-ctx.Done():
		case err := <-srv.done:
			return fmt.Errorf("server stopped: %w", err)
		}
	}
	return nil
}

// demoServer is timeback serve running in this process.
type demoServer struct {
	url    string
	token  string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// startDemoServer runs serve on 127.0.0.1:0 with a database in dir and a
// random token, and waits until it listens.
func startDemoServer(ctx context.Context, dir string, logs slog.Handler) (*demoServer, error) {
	var b [16]byte
	rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	cfg, err := parseServeFlags([]string{"--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "events.db"),
		"--token", token}, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("configure the server: %w", err)
	}

	addr := make(chan string, 1)
	log := slog.New(listenCapture{next: logs, addr: addr})
	serveCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &demoServer{token: token, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- serve(serveCtx, cfg, log) }()

	select {
	case a := <-addr:
		s.url = "http://" + a
		return s, nil
	case err := <-s.done:
		cancel()
		if err == nil {
			err = errors.New("it stopped before listening")
		}
		return nil, fmt.Errorf("start the server: %w", err)
	case <-time.After(demoStartTimeout):
		cancel()
		<-s.done
		return nil, fmt.Errorf("start the server: not listening after %v", demoStartTimeout)
	}
}

// stop shuts the server down and waits until it has closed its database.
func (s *demoServer) stop() error {
	s.once.Do(func() {
		s.cancel()
		s.err = <-s.done
		if s.err != nil {
			s.err = fmt.Errorf("stop the server: %w", s.err)
		}
	})
	return s.err
}

// listenCapture passes log records on to next and sends the address of the
// "listening" record, which serve logs once it accepts connections.
type listenCapture struct {
	next slog.Handler
	addr chan<- string
}

func (h listenCapture) Enabled(context.Context, slog.Level) bool { return true }

func (h listenCapture) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "listening" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key != "addr" {
				return true
			}
			select {
			case h.addr <- a.Value.String():
			default:
			}
			return false
		})
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h listenCapture) WithAttrs(attrs []slog.Attr) slog.Handler {
	return listenCapture{next: h.next.WithAttrs(attrs), addr: h.addr}
}

func (h listenCapture) WithGroup(name string) slog.Handler {
	return listenCapture{next: h.next.WithGroup(name), addr: h.addr}
}

// simulation is the scripted student: two activities over two days on a
// fake clock, so that timers fire in order and hours pass at once.
type simulation struct {
	out    io.Writer
	sink   tracker.Sink
	store  tracker.RunStore
	logger *slog.Logger

	clock *tracker.FakeClock
	errs  []error
	// want holds the totals the tracker counted, by run id, to check what
	// the server stored against.
	want map[string]tracker.RunState
}

// The simulated days: two and one days before today, in UTC, so that
// every event time is in the past.
func demoDays(now time.Time) (day1, day2 time.Time) {
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	return today.AddDate(0, 0, -2).Add(15 * time.Hour), today.AddDate(0, 0, -1).Add(9 * time.Hour)
}

func (s *simulation) newTracker() (*tracker.Tracker, error) {
	return tracker.New(tracker.Config{
		Sink:    s.sink,
		Clock:   s.clock,
		Store:   s.store,
		Logger:  s.logger,
		OnError: func(runID string, err error) { s.errs = append(s.errs, err) },
	})
}

func (s *simulation) say(format string, args ...any) {
	fmt.Fprintf(s.out, "  %s  %s\n", s.clock.Now().Format("Mon 02 Jan 15:04"), fmt.Sprintf(format, args...))
}

// answer lets the student answer n questions, each taking per, correct of
// them right.
func (s *simulation) answer(q *questions, n, correct int, per time.Duration) {
	for i := range n {
		s.clock.Advance(per)
		q.total++
		if i < correct {
			q.correct++
		}
	}
}

type questions struct{ total, correct int }

func (q questions) metrics() tracker.Metrics {
	total, correct := float64(q.total), float64(q.correct)
	return tracker.Metrics{TotalQuestions: &total, CorrectQuestions: &correct}
}

func (s *simulation) start(t *tracker.Tracker, ctx context.Context, a demoActivity, runID string) (*tracker.Run, error) {
	run, err := t.Start(ctx, tracker.Activity{Actor: demoStudent, Object: a.object, CourseID: a.courseID,
		RunID: runID})
	if err != nil {
		return nil, fmt.Errorf("start %q: %w", a.title, err)
	}
	return run, nil
}

func (s *simulation) run(ctx context.Context) error {
	day1, day2 := demoDays(time.Now())
	s.clock = tracker.NewFakeClock(day1)
	s.want = make(map[string]tracker.RunState)
	fmt.Fprintf(s.out, "Student: %s, heartbeats every %d s, on a simulated clock (UTC)\n\n",
		demoStudent.Email, int(tracker.DefaultHeartbeatInterval/time.Second))

	fractionsID, fractions, err := s.dayOne(ctx)
	if err != nil {
		return err
	}
	s.clock.Set(day2)
	if err := s.dayTwo(ctx, fractionsID, fractions); err != nil {
		return err
	}
	if len(s.errs) > 0 {
		return fmt.Errorf("tracker: %w", errors.Join(s.errs...))
	}
	return nil
}

// dayOne works on Fractions with a break, a hidden tab past the timeout and
// an end without completion.
func (s *simulation) dayOne(ctx context.Context) (string, questions, error) {
	var q questions
	t, err := s.newTracker()
	if err != nil {
		return "", q, err
	}
	run, err := s.start(t, ctx, demoFractions, "")
	if err != nil {
		return "", q, err
	}
	s.say("starts %q (%s), run %s", demoFractions.title, demoFractions.object.Subject, run.ID())

	s.answer(&q, 6, 5, 40*time.Second)
	s.say("has answered 6 questions, 5 right, and pauses for a break")
	if err := run.Pause(); err != nil {
		return "", q, err
	}
	s.clock.Advance(2 * time.Minute)
	s.say("resumes")
	if err := run.Resume(); err != nil {
		return "", q, err
	}

	s.answer(&q, 2, 2, 90*time.Second)
	s.say("has answered 2 more, both right, and switches to another tab")
	if err := run.SetVisible(false); err != nil {
		return "", q, err
	}
	s.clock.Advance(14 * time.Minute)
	s.say("comes back after 14 min: the time past the %d min hidden timeout is not counted",
		int(tracker.DefaultHiddenTimeout/time.Minute))
	if err := run.SetVisible(true); err != nil {
		return "", q, err
	}

	s.clock.Advance(time.Minute)
	s.say("closes the app, so the run ends without completion")
	if err := run.End(ctx); err != nil {
		return "", q, err
	}
	return run.ID(), q, nil
}

// dayTwo resumes Fractions in a new session and completes it, then does
// Main idea in one go.
func (s *simulation) dayTwo(ctx context.Context, fractionsID string, q questions) error {
	t, err := s.newTracker()
	if err != nil {
		return err
	}
	run, err := s.start(t, ctx, demoFractions, fractionsID)
	if err != nil {
		return err
	}
	s.say("resumes run %s of %q", run.ID(), demoFractions.title)
	s.answer(&q, 2, 2, 150*time.Second)
	s.say("has answered %d questions, %d right, and completes", q.total, q.correct)
	if err := run.Complete(ctx, q.metrics()); err != nil {
		return err
	}
	s.want[run.ID()] = run.State()

	var q2 questions
	run, err = s.start(t, ctx, demoMainIdea, "")
	if err != nil {
		return err
	}
	s.say("starts %q (%s), run %s", demoMainIdea.title, demoMainIdea.object.Subject, run.ID())
	s.answer(&q2, 5, 5, 72*time.Second)
	s.say("has answered 5 questions, all right, and completes")
	if err := run.Complete(ctx, q2.metrics()); err != nil {
		return err
	}
	s.want[run.ID()] = run.State()
	return nil
}

// check compares what the server stored with what the tracker counted.
func (s *simulation) check(runs []demoRun) error {
	if len(runs) != len(s.want) {
		return fmt.Errorf("the server has %d runs, the tracker sent %d", len(runs), len(s.want))
	}
	for _, r := range runs {
		want, ok := s.want[r.id]
		switch {
		case !ok:
			return fmt.Errorf("the server has run %s, which the tracker did not send", r.id)
		case r.completions != 1:
			return fmt.Errorf("run %s has %d completions stored, want 1", r.id, r.completions)
		case r.active != want.Active || r.inactive != want.Inactive || r.windows != want.Windows:
			return fmt.Errorf("run %s: the server has %d windows, %v active and %v inactive; "+
				"the tracker sent %d, %v and %v", r.id, r.windows, r.active, r.inactive,
				want.Windows, want.Active, want.Inactive)
		case r.xp != want.XPEarned:
			return fmt.Errorf("run %s: the server has xpEarned %v, the tracker sent %v", r.id, r.xp, want.XPEarned)
		}
	}
	return nil
}

// demoRun is the sum of the events the server stored for one run.
type demoRun struct {
	id          string
	activity    string
	first       time.Time
	events      int
	windows     int
	completions int
	active      time.Duration
	inactive    time.Duration
	xp          float64
	total       *float64
	correct     *float64
}

// readDemoRuns lists the student's stored events page by page and sums
// them per run, in the order the runs started.
func readDemoRuns(ctx context.Context, srv *demoServer) ([]demoRun, int, error) {
	byID := make(map[string]*demoRun)
	total := 0
	cursor := ""
	for {
		page, next, err := fetchEvents(ctx, srv, cursor)
		if err != nil {
			return nil, 0, err
		}
		for _, raw := range page {
			total++
			if err := addEvent(byID, raw); err != nil {
				return nil, 0, err
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}

	runs := make([]demoRun, 0, len(byID))
	for _, r := range byID {
		runs = append(runs, *r)
	}
	slices.SortFunc(runs, func(a, b demoRun) int { return a.first.Compare(b.first) })
	return runs, total, nil
}

func fetchEvents(ctx context.Context, srv *demoServer, cursor string) ([]json.RawMessage, string, error) {
	q := url.Values{"actorEmail": {demoStudent.Email}, "limit": {"100"}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.url+"/caliper/events?"+q.Encode(), nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Authorization", "Bearer "+srv.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("list the stored events: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, "", fmt.Errorf("list the stored events: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("list the stored events: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}

	var reply struct {
		Events     []json.RawMessage `json:"events"`
		Pagination struct {
			NextCursor string `json:"nextCursor"`
		} `json:"pagination"`
	}
	if err := json.Unmarshal(body, &reply); err != nil {
		return nil, "", fmt.Errorf("list the stored events: invalid reply: %w", err)
	}
	return reply.Events, reply.Pagination.NextCursor, nil
}

func addEvent(byID map[string]*demoRun, raw json.RawMessage) error {
	ev, problems := timeback.ParseEvent(raw)
	if ev == nil {
		return fmt.Errorf("the server returned an event that does not parse: %v", problems)
	}
	var c timeback.Common
	switch ev := ev.(type) {
	case *timeback.TimeSpent:
		c = ev.Common
	case *timeback.ActivityCompleted:
		c = ev.Common
	}
	r := byID[c.RunID]
	if r == nil {
		r = &demoRun{id: c.RunID, first: c.EventTime}
		if c.Object.Activity != nil {
			r.activity = c.Object.Activity.Name
		}
		byID[c.RunID] = r
	}
	r.events++
	if c.EventTime.Before(r.first) {
		r.first = c.EventTime
	}

	switch ev := ev.(type) {
	case *timeback.TimeSpent:
		r.windows++
		for _, it := range ev.Items {
			d := time.Duration(it.Seconds*1000+0.5) * time.Millisecond
			switch it.Type {
			case timeback.TimeActive:
				r.active += d
			case timeback.TimeInactive:
				r.inactive += d
			}
		}
	case *timeback.ActivityCompleted:
		r.completions++
		r.xp = ev.Metrics.XPEarned
		r.total, r.correct = ev.Metrics.TotalQuestions, ev.Metrics.CorrectQuestions
	}
	return nil
}

func printDemoRuns(w io.Writer, runs []demoRun, total int) {
	fmt.Fprintf(w, "\nStored by the server (GET /caliper/events): %d events\n\n", total)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  RUN\tACTIVITY\tEVENTS\tACTIVE\tINACTIVE\tXP\tACCURACY")
	for _, r := range runs {
		accuracy := "-"
		if r.total != nil && r.correct != nil && *r.total > 0 {
			accuracy = fmt.Sprintf("%.0f%% (%v/%v)", 100**r.correct / *r.total, *r.correct, *r.total)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%v\t%s\n", r.id, r.activity, r.events,
			formatMinutes(r.active), formatMinutes(r.inactive), r.xp, accuracy)
	}
	tw.Flush()
}

// formatMinutes writes d as minutes and seconds, such as 13m05s.
func formatMinutes(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
}
