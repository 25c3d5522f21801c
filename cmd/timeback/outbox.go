package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/timeback/timeback-go/sender"
	"github.com/timeback/timeback-go/sqlite"
)

const outboxUsage = `Usage: timeback outbox stats|dead|retry [--outbox PATH] [flags]

Inspects the outbox of timeback send and of the Go sender.

  stats   prints the queued events, their size and age, and the dead letters
  dead    lists the dead letters: the events the endpoint rejected, with its
          reply status and message
  retry   moves dead letters back to the queue (all, or those named by --id);
          the next timeback send with the same --outbox delivers them

The outbox must not be open in another process, such as a running send.

Exit status: 0 on success, 1 when the outbox cannot be read or written or an
--id names no dead letter, 2 for a usage error.

Flags:
`

// idList is the repeatable --id flag.
type idList []string

func (l *idList) String() string     { return fmt.Sprint(*l) }
func (l *idList) Set(v string) error { *l = append(*l, v); return nil }

func runOutbox(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("outbox", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	path := fs.String("outbox", "", "outbox `file` (default timeback/outbox.db in the user's cache folder)")
	asJSON := fs.Bool("json", false, "write JSON: one object for stats, one line per dead letter for dead")
	limit := fs.Int("limit", 0, "dead: list at most `n` dead letters (0 lists all)")
	var ids idList
	fs.Var(&ids, "id", "retry: requeue the dead letter with this event `id` (repeatable)")
	fs.Usage = func() {
		fmt.Fprint(e.stderr, outboxUsage)
		fs.PrintDefaults()
	}
	rest, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	if len(rest) != 1 {
		fmt.Fprintln(e.stderr, "timeback outbox: give one action: stats, dead or retry")
		fs.Usage()
		return exitUsage
	}
	action := rest[0]
	switch {
	case action != "stats" && action != "dead" && action != "retry":
		fmt.Fprintf(e.stderr, "timeback outbox: unknown action %q: use stats, dead or retry\n", action)
		return exitUsage
	case len(ids) > 0 && action != "retry":
		fmt.Fprintln(e.stderr, "timeback outbox: --id applies to retry only")
		return exitUsage
	case *limit < 0:
		fmt.Fprintf(e.stderr, "timeback outbox: --limit %d is negative\n", *limit)
		return exitUsage
	case flagSetEmpty(fs, "outbox"):
		fmt.Fprintln(e.stderr, "timeback outbox: --outbox is empty: give a file, or leave the flag out for the default")
		return exitUsage
	}

	if *path == "" {
		if *path, err = sender.DefaultOutboxPath(); err != nil {
			fmt.Fprintf(e.stderr, "timeback outbox: %v\n", err)
			return exitFailure
		}
	}
	if _, err := os.Stat(*path); err != nil {
		fmt.Fprintf(e.stderr, "timeback outbox: outbox %s: %v; give the path that send used with --outbox\n",
			*path, err)
		return exitFailure
	}
	outbox, err := sqlite.OpenOutbox(ctx, *path)
	if err != nil {
		fmt.Fprintf(e.stderr, "timeback outbox: %v\n", err)
		return exitFailure
	}
	defer outbox.Close()

	switch action {
	case "stats":
		err = outboxStats(ctx, e, outbox, *asJSON)
	case "dead":
		err = outboxDead(ctx, e, outbox, *limit, *asJSON)
	case "retry":
		err = outboxRetry(ctx, e, outbox, ids)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "timeback outbox: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func outboxStats(ctx context.Context, e env, outbox *sqlite.Outbox, asJSON bool) error {
	st, err := outbox.Stats(ctx)
	if err != nil {
		return err
	}
	age := time.Duration(0)
	if !st.Oldest.IsZero() {
		age = time.Since(st.Oldest).Round(time.Second)
	}
	if asJSON {
		return json.NewEncoder(e.stdout).Encode(struct {
			Path        string  `json:"path"`
			Queued      int     `json:"queued"`
			QueuedBytes int64   `json:"queuedBytes"`
			OldestAge   float64 `json:"oldestAgeSeconds"`
			Dead        int     `json:"dead"`
		}{outbox.Path(), st.Queued, st.QueuedBytes, age.Seconds(), st.Dead})
	}
	fmt.Fprintf(e.stdout, "outbox:        %s\n", outbox.Path())
	fmt.Fprintf(e.stdout, "queued:        %s, %d bytes\n", countEvents(st.Queued), st.QueuedBytes)
	if st.Queued > 0 {
		fmt.Fprintf(e.stdout, "oldest queued: %s ago (%s)\n", age, st.Oldest.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(e.stdout, "dead letters:  %d\n", st.Dead)
	return nil
}

func outboxDead(ctx context.Context, e env, outbox *sqlite.Outbox, limit int, asJSON bool) error {
	dead, err := outbox.DeadLetters(ctx, 0, limit)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(e.stdout)
	for _, d := range dead {
		if asJSON {
			err := enc.Encode(struct {
				ID       string          `json:"id"`
				Status   int             `json:"status"`
				Message  string          `json:"message"`
				FailedAt time.Time       `json:"failedAt"`
				Event    json.RawMessage `json:"event"`
			}{d.ID, d.Status, d.Message, d.FailedAt.UTC(), d.JSON})
			if err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(e.stdout, "%s  %s  %s\n", d.FailedAt.UTC().Format(time.RFC3339), d.ID, d.Message)
	}
	if !asJSON && len(dead) == 0 {
		fmt.Fprintln(e.stdout, "no dead letters")
	}
	return nil
}

func outboxRetry(ctx context.Context, e env, outbox *sqlite.Outbox, ids []string) error {
	var unknown []string
	if len(ids) > 0 {
		dead, err := outbox.DeadLetters(ctx, 0, 0)
		if err != nil {
			return err
		}
		known := make(map[string]bool, len(dead))
		for _, d := range dead {
			known[d.ID] = true
		}
		for _, id := range ids {
			if !known[id] {
				unknown = append(unknown, id)
			}
		}
	}
	n, err := outbox.Requeue(ctx, ids...)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "requeued %d dead letters\n", n)
	if n > 0 {
		// timeback send needs a destination as well as the outbox, because
		// without one it exits with a usage error.
		fmt.Fprintf(e.stdout, "deliver them with: timeback send --endpoint URL --outbox %s (or --env production|staging)\n",
			outbox.Path())
	}
	if len(unknown) > 0 {
		return fmt.Errorf("--id %s: no dead letter has this event id; list them with timeback outbox dead"+
			" --outbox %s", strings.Join(unknown, ", "), outbox.Path())
	}
	return nil
}
