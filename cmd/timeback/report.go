package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/timeback/timeback-go/analytics"
	"github.com/timeback/timeback-go/facts"
	"github.com/timeback/timeback-go/facts/sqlfacts"
	"github.com/timeback/timeback-go/postgres"
	_ "modernc.org/sqlite" // registers the "sqlite" driver for sqlfacts.OpenReader
)

func runReport(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("timeback report", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	db := fs.String("db", "timeback.db", "database: a SQLite `file` (optionally sqlite:PATH) or a postgres:// URL")
	student := fs.String("student", "", "actor id of the student, the OneRoster user URL (required)")
	tz := fs.String("tz", "UTC", "IANA time `zone` in which days start, such as America/Chicago")
	from := fs.String("from", "", "first `day`, YYYY-MM-DD (default: 13 days before --to)")
	to := fs.String("to", "", "last `day`, YYYY-MM-DD, inclusive (default: today in --tz)")
	format := fs.String("format", "table", "output `format`: table, csv or json")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "Usage: timeback report --db DB --student ID [--tz ZONE] [--from DAY] [--to DAY] [--format table|csv|json]")
		fmt.Fprintln(e.stderr, "\nPrints a student's learning facts per day: XP, seconds by time category,")
		fmt.Fprintln(e.stderr, "questions, accuracy, mastered units and completions.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "timeback report: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *student == "" {
		fmt.Fprintln(e.stderr, "timeback report: missing --student: give the student's actor id")
		return exitUsage
	}
	switch *format {
	case "table", "csv", "json":
	default:
		fmt.Fprintf(e.stderr, "timeback report: invalid --format %q: use table, csv or json\n", *format)
		return exitUsage
	}
	rg, err := reportRange(*from, *to, *tz, time.Now())
	if err != nil {
		fmt.Fprintf(e.stderr, "timeback report: %v\n", err)
		return exitUsage
	}

	src, closeSource, err := openFacts(ctx, *db)
	if err != nil {
		fmt.Fprintf(e.stderr, "timeback report: %v\n", err)
		return exitFailure
	}
	defer closeSource()
	d, err := analytics.StudentDaily(ctx, src, *student, rg)
	if err != nil {
		fmt.Fprintf(e.stderr, "timeback report: read facts: %v\n", err)
		return exitFailure
	}
	if len(d.Runs) == 0 {
		// A mistyped --student would otherwise print a table of zeros. Like
		// the analytics API, a student with facts on other days gets empty
		// days and one without any facts is not found.
		known, err := src.Students(ctx, "")
		if err != nil {
			fmt.Fprintf(e.stderr, "timeback report: read students: %v\n", err)
			return exitFailure
		}
		if !slices.Contains(known, *student) {
			fmt.Fprintf(e.stderr, "timeback report: student %q not found: the database has no facts for this actor id, so check --student\n", *student)
			return exitFailure
		}
	}
	switch *format {
	case "json":
		err = writeReportJSON(e.stdout, d)
	case "csv":
		err = writeReportCSV(e.stdout, d)
	default:
		err = writeReportTable(e.stdout, d)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "timeback report: write: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// reportRange applies the defaults of --from and --to and checks the range.
func reportRange(from, to, tz string, now time.Time) (facts.Range, error) {
	loc, err := facts.LoadZone(tz)
	if err != nil {
		return facts.Range{}, fmt.Errorf("invalid --tz: %v", err)
	}
	if to == "" {
		to = facts.DateOf(now.In(loc)).String()
	}
	if from == "" {
		d, err := facts.ParseDate(to)
		if err != nil {
			return facts.Range{}, fmt.Errorf("invalid --to: %v", err)
		}
		from = d.AddDays(1 - analytics.DefaultDays).String()
	}
	rg, err := facts.ParseRange(from, to, tz)
	if err != nil {
		return facts.Range{}, fmt.Errorf("--%v", strings.TrimPrefix(err.Error(), "invalid range: "))
	}
	return rg, nil
}

// openFacts opens the facts of a --db value: a postgres:// URL, or a SQLite
// file with or without a sqlite: prefix.
func openFacts(ctx context.Context, db string) (facts.Source, func(), error) {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		s, err := postgres.Open(ctx, db, postgres.Config{ReadOnly: true})
		if err != nil {
			return nil, nil, err
		}
		return s, func() { s.Close() }, nil
	}
	path := strings.TrimPrefix(db, "sqlite:")
	if path == "" {
		return nil, nil, fmt.Errorf("missing --db: give a SQLite file or a postgres:// URL")
	}
	conn, err := sqlfacts.OpenReader(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	return sqlfacts.Reader{DB: conn}, func() { conn.Close() }, nil
}

var reportColumns = []string{"date", "xp", "active_min", "inactive_min", "waste_min", "unknown_min",
	"anti_pattern_min", "questions", "correct", "accuracy", "mastered_units", "completions"}

func reportRow(d facts.Day) []string {
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	minutes := func(s float64) string { return strconv.FormatFloat(s/60, 'f', 2, 64) }
	accuracy := ""
	if d.Accuracy != nil {
		accuracy = strconv.FormatFloat(*d.Accuracy*100, 'f', 1, 64) + "%"
	}
	return []string{d.Date.String(), num(d.XP), minutes(d.ActiveSeconds), minutes(d.InactiveSeconds),
		minutes(d.WasteSeconds), minutes(d.UnknownSeconds), minutes(d.AntiPatternSeconds), num(d.Questions),
		num(d.CorrectQuestions), accuracy, num(d.MasteredUnits), strconv.Itoa(d.Completions)}
}

func writeReportTable(w io.Writer, d *analytics.Daily) error {
	fmt.Fprintf(w, "Student %s, %s to %s in %s\n\n", d.StudentID, d.From, d.To, d.TZ)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(reportColumns, "\t")+"\t")
	for _, day := range d.Days {
		fmt.Fprintln(tw, strings.Join(reportRow(day), "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	flagged := 0
	for _, r := range d.Runs {
		if len(r.Flags) > 0 {
			if flagged == 0 {
				fmt.Fprintln(w, "\nFlagged runs:")
			}
			flagged++
			fmt.Fprintf(w, "  %s: %v\n", r.RunID, r.Flags)
		}
	}
	return nil
}

func writeReportCSV(w io.Writer, d *analytics.Daily) error {
	cw := csv.NewWriter(w)
	cw.Write(reportColumns)
	for _, day := range d.Days {
		cw.Write(reportRow(day))
	}
	cw.Flush()
	return cw.Error()
}

func writeReportJSON(w io.Writer, d *analytics.Daily) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}
