package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/caliper"
	"github.com/timeback/timeback-go/sender"
	"github.com/timeback/timeback-go/sqlite"
)

const sendUsage = `Usage: timeback send (--endpoint URL | --env production|staging)
         [--token T | --client-id ID --client-secret-file F --token-url URL]
         [--outbox PATH] [--sensor IRI] FILE|- ...

Sends the Caliper events in the files through the durable outbox and waits
until each is delivered or dead-lettered. A file may hold one event, an
envelope, a JSON array of events, or NDJSON (one document per line); "-"
reads standard input, once. Every file is validated before anything is queued.
Events already in the outbox from an earlier run are delivered too; with no
FILE, send delivers only those.

Interrupting leaves the undelivered events in the outbox; run send again with
the same --outbox to resume, with or without the files. An event that the
outbox still has queued, or has as a dead letter, is not queued a second
time; outbox retry requeues dead letters.

Exit status: 0 when every event was delivered, 1 when any was dead-lettered,
invalid or left undelivered, 2 for a usage or read error.

Flags:
`

// sendBatch is the count of events handed to one Send call.
const sendBatch = 500

// sendFlags are the parsed flags of timeback send.
type sendFlags struct {
	endpoint, env       string
	token               string
	clientID, tokenURL  string
	clientSecretFile    string
	outbox, sensor      string
	files               []string
	progressDisabled    bool
	queueFullRetryDelay time.Duration
}

func runSend(ctx context.Context, e env, args []string) int {
	f, err := parseSendFlags(e, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "timeback send: %v\n", err)
		return exitUsage
	}
	cfg, err := f.config()
	if err != nil {
		fmt.Fprintf(e.stderr, "timeback send: %v\n", err)
		return exitUsage
	}

	events, code := readSendInputs(e, f.files)
	if code != exitOK {
		return code
	}
	events, err = dropRepeats(e, events)
	if err != nil {
		fmt.Fprintf(e.stderr, "timeback send: %v\n", err)
		return exitFailure
	}

	run := &sendRun{flags: f, ours: make(map[string]bool, len(events)), settled: make(map[string]bool),
		tty: isTerminal(e.stderr)}
	// The background sender's callbacks and logs write to stderr too.
	e.stderr = &lockedWriter{w: e.stderr}
	run.e = e
	for _, ev := range events {
		run.ours[ev.ID] = true
	}
	return run.send(ctx, cfg, events)
}

// dropRepeats removes the later copies of events that the inputs repeat
// byte for byte. An id repeated with other content is an error, because the
// endpoint would reject the second copy as a conflict.
func dropRepeats(e env, events []timeback.RawEvent) ([]timeback.RawEvent, error) {
	seen := make(map[string][]byte, len(events))
	out := events[:0]
	repeats := 0
	for _, ev := range events {
		first, ok := seen[ev.ID]
		switch {
		case !ok:
			seen[ev.ID] = ev.JSON
			out = append(out, ev)
		case bytes.Equal(first, ev.JSON):
			repeats++
		default:
			return nil, fmt.Errorf("event id %s appears twice with different content; nothing was queued", ev.ID)
		}
	}
	if repeats > 0 {
		fmt.Fprintf(e.stderr, "timeback send: skipped %d repeated copies of events\n", repeats)
	}
	return out, nil
}

func parseSendFlags(e env, args []string) (*sendFlags, error) {
	f := &sendFlags{queueFullRetryDelay: 50 * time.Millisecond}
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&f.endpoint, "endpoint", "", "base `URL` of a Caliper endpoint, such as http://127.0.0.1:8080")
	fs.StringVar(&f.env, "env", "", "Timeback environment: production or staging")
	fs.StringVar(&f.token, "token", "", "static Bearer `token`")
	fs.StringVar(&f.clientID, "client-id", "", "OAuth2 client `id` (client credentials grant)")
	fs.StringVar(&f.clientSecretFile, "client-secret-file", "", "`file` holding the OAuth2 client secret")
	fs.StringVar(&f.tokenURL, "token-url", "", "OAuth2 token endpoint `URL` of the environment (required with --client-id)")
	fs.StringVar(&f.outbox, "outbox", "", "outbox `file` (default timeback/outbox.db in the user's cache folder)")
	fs.StringVar(&f.sensor, "sensor", "", "sensor `IRI` of the envelopes (default "+sender.DefaultSensor+")")
	fs.BoolVar(&f.progressDisabled, "no-progress", false, "do not draw the progress bar on a terminal")

	fs.Usage = func() {
		fmt.Fprint(e.stderr, sendUsage)
		fs.PrintDefaults()
	}
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, err
	}
	f.files = files

	switch {
	case readsStdinTwice(files):
		return nil, errStdinTwice
	case flagSetEmpty(fs, "outbox"):
		return nil, errors.New("--outbox is empty: give a file, or leave the flag out for the default")
	case f.endpoint == "" && f.env == "":
		return nil, errors.New("no destination: give --endpoint URL or --env production|staging")
	case f.endpoint != "" && f.env != "":
		return nil, errors.New("--endpoint and --env are both given: use one of them")
	case f.env != "" && f.env != "production" && f.env != "staging":
		return nil, fmt.Errorf("--env %q is not production or staging: use --endpoint for another URL", f.env)
	case f.token != "" && f.clientID != "":
		return nil, errors.New("--token and --client-id are both given: use one of them")
	case f.clientID != "" && f.clientSecretFile == "":
		return nil, errors.New("--client-id needs --client-secret-file")
	case f.clientID == "" && (f.clientSecretFile != "" || f.tokenURL != ""):
		return nil, errors.New("--client-secret-file and --token-url need --client-id")
	}
	return f, nil
}

// config builds the sender configuration, reading the client secret.
func (f *sendFlags) config() (sender.Config, error) {
	cfg := sender.Config{
		Environment: f.endpoint,
		Sensor:      f.sensor,
		Token:       f.token,
		ClientID:    f.clientID,
		TokenURL:    f.tokenURL,
		OutboxPath:  f.outbox,
	}
	if f.env != "" {
		cfg.Environment = f.env
	}
	if f.clientSecretFile != "" {
		secret, err := os.ReadFile(f.clientSecretFile)
		if err != nil {
			return cfg, fmt.Errorf("read --client-secret-file: %w", err)
		}
		cfg.ClientSecret = strings.TrimSpace(string(secret))
		if cfg.ClientSecret == "" {
			return cfg, fmt.Errorf("--client-secret-file %s is empty", f.clientSecretFile)
		}
	}
	if cfg.OutboxPath == "" {
		path, err := sender.DefaultOutboxPath()
		if err != nil {
			return cfg, err
		}
		cfg.OutboxPath = path
		f.outbox = path
	}
	return cfg, nil
}

// readSendInputs reads and validates the files and returns their events in
// order. It reports every problem before it returns a non-zero code.
func readSendInputs(e env, files []string) ([]timeback.RawEvent, int) {
	var events []timeback.RawEvent
	code := exitOK
	for _, name := range files {
		data, err := readInput(e, name)
		if err != nil {
			fmt.Fprintf(e.stderr, "timeback send: %v\n", err)
			code = exitUsage
			continue
		}
		if name == "-" {
			name = "<stdin>"
		}
		docs := [][]byte{data}
		names := []string{name}
		if isNDJSON(name, data) {
			docs, names = docs[:0], names[:0]
			for i, line := range bytes.Split(data, []byte("\n")) {
				if len(bytes.TrimSpace(line)) > 0 {
					docs = append(docs, line)
					names = append(names, fmt.Sprintf("%s:%d", name, i+1))
				}
			}
		}
		for i, doc := range docs {
			found, err := documentEvents(doc)
			if err != nil {
				fmt.Fprintf(e.stderr, "timeback send: %s: %v\n", names[i], err)
				code = max(code, exitFailure)
				continue
			}
			events = append(events, found...)
		}
	}
	if code == exitFailure {
		fmt.Fprintln(e.stderr, "timeback send: nothing was queued; fix the inputs above and run send again")
	}
	return events, code
}

// documentEvents returns the events of one JSON document: an event, an
// envelope or an array of events.
func documentEvents(doc []byte) ([]timeback.RawEvent, error) {
	r := caliper.Validate(doc, caliper.Options{})
	if failing := r.Problems.Failing(false); len(failing) > 0 {
		return nil, fmt.Errorf("invalid: %v", failing)
	}
	switch r.Kind {
	case caliper.KindEvent, caliper.KindEnvelope, caliper.KindArray:
	default:
		return nil, fmt.Errorf("the document is a %s, not an event, envelope or array of events", r.Kind)
	}
	events := make([]timeback.RawEvent, 0, len(r.Items))
	for _, it := range r.Items {
		if it.Event == nil {
			return nil, fmt.Errorf("%s is a %s entity: send sends events only", pointerName(it.Pointer), it.Type)
		}
		events = append(events, timeback.RawEvent{ID: it.ID, JSON: it.Raw})
	}
	return events, nil
}

func pointerName(p string) string {
	if p == "" {
		return "the document"
	}
	return p
}

// sendRun is one run of timeback send.
type sendRun struct {
	e     env
	flags *sendFlags
	ours  map[string]bool // ids of the events read from the files
	tty   bool            // stderr is a terminal

	mu sync.Mutex
	// settled are the ids delivered or dead-lettered so far. The counts
	// count each id once, even when the outbox has several copies of it, as
	// outboxes written by earlier versions of send can.
	settled map[string]bool
	counts  sendCounts
	// rejected counts the dead letters reported on stderr or counted past
	// the limit.
	rejected int
}

// sendCounts are the outcomes of a run, counting each event id once.
type sendCounts struct {
	delivered, dead int // of ours
	// unqueued are the events of ours still to be queued when the run
	// stopped.
	unqueued int
	// earlierDelivered and earlierDead count the events that earlier runs
	// left in the outbox.
	earlierDelivered, earlierDead int
}

// maxRejectedLines bounds the lines send prints for rejected events.
const maxRejectedLines = 20

func (r *sendRun) onDelivered(d sender.Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range d.EventIDs {
		switch {
		case r.settled[id]:
		case r.ours[id]:
			r.counts.delivered++
		default:
			r.counts.earlierDelivered++
		}
		r.settled[id] = true
	}
}

func (r *sendRun) onDeadLetter(d sender.DeadLetter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.settled[d.ID]:
	case r.ours[d.ID]:
		r.counts.dead++
	default:
		r.counts.earlierDead++
	}
	r.settled[d.ID] = true
	r.rejected++
	switch {
	case r.rejected <= maxRejectedLines:
		fmt.Fprintf(r.e.stderr, "%stimeback send: event %s rejected: %s\n", r.clearLine(), d.ID, d.Message)
	case r.rejected == maxRejectedLines+1:
		fmt.Fprintf(r.e.stderr, "%stimeback send: more events rejected; timeback outbox dead lists them all\n",
			r.clearLine())
	}
}

func (r *sendRun) snapshot() sendCounts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts
}

func (r *sendRun) send(ctx context.Context, cfg sender.Config, events []timeback.RawEvent) int {
	cfg.OnDelivered = r.onDelivered
	cfg.OnDeadLetter = r.onDeadLetter
	cfg.Logger = slog.New(slog.NewTextHandler(lineClearer{r}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	outbox, err := openSendOutbox(ctx, cfg.OutboxPath)
	if err != nil {
		fmt.Fprintf(r.e.stderr, "timeback send: %v\n", err)
		return exitFailure
	}
	events, err = r.dropInOutbox(ctx, outbox, events)
	if err != nil {
		outbox.Close()
		fmt.Fprintf(r.e.stderr, "timeback send: %v\n", err)
		return exitFailure
	}
	cfg.Queue = outbox
	client, err := sender.New(cfg)
	if err != nil {
		outbox.Close()
		fmt.Fprintf(r.e.stderr, "timeback send: %v\n", err)
		return exitFailure
	}

	if err := r.check(client, events); err != nil {
		r.closeEarly(client)
		fmt.Fprintf(r.e.stderr, "timeback send: %v\n", err)
		fmt.Fprintln(r.e.stderr, "timeback send: nothing was queued; fix the inputs above and run send again")
		return exitFailure
	}
	if err := r.queue(ctx, client, events); err != nil {
		r.closeEarly(client)
		if ctx.Err() != nil {
			return r.summary(err)
		}
		fmt.Fprintf(r.e.stderr, "%stimeback send: %v\n", r.clearLine(), err)
		return exitFailure
	}

	stopProgress := r.startProgress(client, len(r.ours))
	flushErr := flushUntilRejected(ctx, client)
	stopProgress()
	if flushErr != nil {
		r.closeEarly(client)
		return r.summary(flushErr)
	}
	if err := client.Close(context.Background()); err != nil {
		fmt.Fprintf(r.e.stderr, "timeback send: %v\n", err)
		return exitFailure
	}
	return r.summary(nil)
}

// openSendOutbox opens the outbox at path and checks that it can be written.
func openSendOutbox(ctx context.Context, path string) (*sqlite.Outbox, error) {
	outbox, err := sqlite.OpenOutbox(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := outbox.CheckWritable(ctx); err != nil {
		outbox.Close()
		return nil, err
	}
	return outbox, nil
}

// dropInOutbox leaves out the events whose ids are queued in the outbox
// already, as after an interrupted run over the same files, so that the
// outbox gets no second copy. The client delivers the queued copies, and
// they count as this run's. It also leaves out the events that are dead
// letters: the endpoint would reject them again, and outbox retry requeues
// them. They count as dead-lettered.
func (r *sendRun) dropInOutbox(ctx context.Context, outbox *sqlite.Outbox,
	events []timeback.RawEvent) ([]timeback.RawEvent, error) {
	queuedIDs, err := outbox.QueuedIDs(ctx)
	if err != nil {
		return nil, err
	}
	deadIDs, err := outbox.DeadLetterIDs(ctx)
	if err != nil {
		return nil, err
	}
	queued := make(map[string]bool, len(queuedIDs))
	for _, id := range queuedIDs {
		queued[id] = true
	}
	dead := make(map[string]bool, len(deadIDs))
	for _, id := range deadIDs {
		dead[id] = true
	}
	out := events[:0]
	skippedQueued, skippedDead := 0, 0
	for _, ev := range events {
		switch {
		case queued[ev.ID]:
			skippedQueued++
		case dead[ev.ID]:
			skippedDead++
			r.settled[ev.ID] = true
		default:
			out = append(out, ev)
		}
	}
	r.counts.dead += skippedDead
	if skippedQueued > 0 {
		fmt.Fprintf(r.e.stderr, "timeback send: %s already in the outbox; sending the queued copies\n",
			countEvents(skippedQueued))
	}
	if skippedDead > 0 {
		fmt.Fprintf(r.e.stderr, "timeback send: %s already dead-lettered by an earlier run, not queued again;"+
			" requeue them with: timeback outbox retry --outbox %s\n", countEvents(skippedDead), r.flags.outbox)
	}
	return out, nil
}

// flushUntilRejected waits for the delivery of the queued events like
// Flush, but stops when the token endpoint rejects the credentials: retrying
// cannot succeed until the user fixes them.
func flushUntilRejected(ctx context.Context, client *sender.Client) error {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if err := client.Stats().LastError; errors.Is(err, sender.ErrTokenRejected) {
				stop(err)
				return
			}
		}
	}()
	err := client.Flush(ctx)
	if cause := context.Cause(ctx); err != nil && errors.Is(cause, sender.ErrTokenRejected) {
		return cause
	}
	return err
}

// check runs the client's checks, such as the envelope size limit, on every
// event before any is queued.
func (r *sendRun) check(client *sender.Client, events []timeback.RawEvent) error {
	for i, ev := range events {
		err := client.Check(ev)
		var evErr *sender.EventError
		switch {
		case errors.As(err, &evErr):
			return inputEventError(i, evErr)
		case err != nil:
			return fmt.Errorf("event %d of the inputs: %w", i+1, err)
		}
	}
	return nil
}

// inputEventError describes the rejection of the event at index i of the
// inputs. The Index of err counts the events of one Check call, so it is
// left out.
func inputEventError(i int, err *sender.EventError) error {
	what := "is invalid"
	if errors.Is(err, sender.ErrEventTooLarge) {
		what = "is too large"
	}
	detail := ""
	if len(err.Problems) > 0 {
		detail = err.Problems.Error()
	} else if err.Err != nil {
		detail = err.Err.Error()
	}
	id := ""
	if err.ID != "" {
		id = " (" + err.ID + ")"
	}
	return fmt.Errorf("event %d of the inputs%s %s: %s", i+1, id, what, detail)
}

// queue hands the events to the client, waiting while the queue is full.
func (r *sendRun) queue(ctx context.Context, client *sender.Client, events []timeback.RawEvent) error {
	r.mu.Lock()
	r.counts.unqueued = len(events)
	r.mu.Unlock()
	batch := make([]timeback.Event, 0, sendBatch)
	for start := 0; start < len(events); start += sendBatch {
		batch = batch[:0]
		for _, ev := range events[start:min(start+sendBatch, len(events))] {
			batch = append(batch, ev)
		}
		for {
			err := client.Send(ctx, batch...)
			if err == nil {
				r.mu.Lock()
				r.counts.unqueued -= len(batch)
				r.mu.Unlock()
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted after queueing %d of %d events: %w", start, len(events),
					ctx.Err())
			}
			if !errors.Is(err, sender.ErrQueueFull) {
				return err
			}
			select {
			case <-time.After(r.flags.queueFullRetryDelay):
			case <-ctx.Done():
				return fmt.Errorf("interrupted after queueing %d of %d events: %w", start, len(events),
					ctx.Err())
			}
		}
	}
	return nil
}

// closeEarly closes the client at once, leaving what remains in the outbox.
func (r *sendRun) closeEarly(client *sender.Client) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	client.Close(ctx)
}

// summary prints the closing line and returns the exit status. Err is why
// the run stopped before every event was delivered or dead-lettered, nil
// when it did not.
func (r *sendRun) summary(err error) int {
	c := r.snapshot()
	total := len(r.ours)
	left := total - c.delivered - c.dead - c.unqueued
	var b strings.Builder
	fmt.Fprintf(&b, "timeback send: %s: %d delivered, %d dead-lettered", countEvents(total), c.delivered, c.dead)
	if left > 0 {
		fmt.Fprintf(&b, ", %d left in the outbox", left)
	}
	if c.unqueued > 0 {
		fmt.Fprintf(&b, ", %d not queued", c.unqueued)
	}
	if c.earlierDelivered+c.earlierDead > 0 {
		fmt.Fprintf(&b, "; earlier runs: %d delivered, %d dead-lettered", c.earlierDelivered, c.earlierDead)
	}
	fmt.Fprintln(r.e.stdout, b.String())

	switch {
	case err != nil && c.unqueued > 0:
		fmt.Fprintf(r.e.stderr, "timeback send: stopped before delivery finished (%v); run send again with"+
			" the same files and --outbox %s to resume\n", err, r.flags.outbox)
		return exitFailure
	case err != nil:
		fmt.Fprintf(r.e.stderr, "timeback send: stopped before delivery finished (%v); run send again with"+
			" --outbox %s to resume\n", err, r.flags.outbox)
		return exitFailure
	case c.dead > 0 || c.earlierDead > 0:
		fmt.Fprintf(r.e.stderr, "timeback send: list the rejected events with: timeback outbox dead --outbox %s\n",
			r.flags.outbox)
		return exitFailure
	}
	return exitOK
}

// terminal reports whether the progress bar is drawn: stderr is a terminal
// and --no-progress is not given.
func (r *sendRun) terminal() bool { return r.tty && !r.flags.progressDisabled }

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// clearLine returns the escape sequence that erases the progress bar before
// other output, or "" when no bar is drawn.
func (r *sendRun) clearLine() string {
	if r.terminal() {
		return "\r\033[K"
	}
	return ""
}

// startProgress draws the progress bar every 100 ms until the returned
// function is called.
func (r *sendRun) startProgress(client *sender.Client, total int) func() {
	if !r.terminal() || total == 0 {
		return func() {}
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			r.drawProgress(client, total)
			select {
			case <-tick.C:
			case <-stop:
				fmt.Fprint(r.e.stderr, r.clearLine())
				return
			}
		}
	}()
	return func() {
		close(stop)
		<-done
	}
}

func (r *sendRun) drawProgress(client *sender.Client, total int) {
	const width = 30
	c := r.snapshot()
	filled := (c.delivered + c.dead) * width / total
	st := client.Stats()
	line := fmt.Sprintf("[%s%s] %d/%d delivered, %d dead-lettered, %d retried",
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), c.delivered, total, c.dead, st.Retried)
	fmt.Fprint(r.e.stderr, "\r\033[K"+line)
}

// lineClearer writes log records to stderr below the progress bar.
type lineClearer struct{ r *sendRun }

func (w lineClearer) Write(p []byte) (int, error) {
	if _, err := io.WriteString(w.r.e.stderr, w.r.clearLine()); err != nil {
		return 0, err
	}
	return w.r.e.stderr.Write(p)
}
