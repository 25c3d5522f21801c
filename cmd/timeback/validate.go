package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/timeback/timeback-go/caliper"
)

const validateUsage = `Usage: timeback validate [--strict] [--json] PATH|- ...

Checks each input against Caliper 1.2 and the TimebackProfile. An input may be
one event, one entity, an envelope, a JSON array of events, or NDJSON (one
document per line, reported as PATH:LINE; an event id repeated on a later
line is an error). "-" reads standard input, once.

Exit status: 0 when every input is valid, 1 when any is invalid, 2 for a usage
or read error.

Flags:
`

// validateResult is the outcome for one document: a file, standard input or
// one NDJSON line.
type validateResult struct {
	Name     string           `json:"name"`
	Kind     string           `json:"kind"`
	Valid    bool             `json:"valid"`
	Problems caliper.Problems `json:"problems"`
	// Error is the read error of an input that could not be read; the
	// other fields are then empty.
	Error string `json:"error,omitempty"`
}

func runValidate(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	strict := fs.Bool("strict", false, "treat warnings (a +00:00 offset, missing milliseconds) as errors")
	asJSON := fs.Bool("json", false, "write one JSON report to standard output")
	fs.Usage = func() {
		fmt.Fprint(e.stderr, validateUsage)
		fs.PrintDefaults()
	}
	paths, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if len(paths) == 0 {
		fmt.Fprintln(e.stderr, "timeback validate: no input; give one or more files, or - for standard input")
		fs.Usage()
		return exitUsage
	}

	if readsStdinTwice(paths) {
		fmt.Fprintf(e.stderr, "timeback validate: %v\n", errStdinTwice)
		return exitUsage
	}

	opts := caliper.Options{Strict: *strict}
	var results []validateResult
	readFailed := false
	for _, name := range paths {
		if ctx.Err() != nil {
			return exitFailure
		}
		data, err := readInput(e, name)
		if err != nil {
			fmt.Fprintf(e.stderr, "timeback validate: %v\n", err)
			readFailed = true
			results = append(results, validateResult{Name: name, Problems: caliper.Problems{}, Error: err.Error()})
			continue
		}
		results = append(results, validateInput(name, data, opts)...)
	}

	allValid := true
	for _, r := range results {
		allValid = allValid && r.Valid
	}
	if *asJSON {
		writeJSONReport(e.stdout, results, allValid && !readFailed)
	} else {
		for _, r := range results {
			if r.Error == "" { // read errors are on standard error already
				writeTextResult(e.stdout, r)
			}
		}
	}
	switch {
	case readFailed:
		return exitUsage
	case !allValid:
		return exitFailure
	}
	return exitOK
}

// parseInterspersed parses flags that may come before, between or after the
// paths, and returns the paths. Everything after "--" is a path.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var paths []string
	for {
		if len(args) > 0 && args[0] == "--" {
			return append(paths, args[1:]...), nil
		}
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return paths, nil
		}
		if args[0] == "--" {
			continue
		}
		paths = append(paths, args[0])
		args = args[1:]
	}
}

// maxInputBytes is the maximum number of bytes timeback validate reads of
// one input, the largest document caliper.Validate accepts. Without a bound a device such
// as /dev/zero would be read until memory runs out.
var maxInputBytes int64 = caliper.MaxDocumentBytes

func readInput(e env, name string) ([]byte, error) {
	if name == "-" {
		data, err := readLimited(e.stdin)
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return data, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := readLimited(f)
	var pathErr *os.PathError
	switch {
	case errors.As(err, &pathErr): // already names the file, as "read NAME: is a directory"
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return data, nil
}

func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxInputBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > maxInputBytes {
		return nil, fmt.Errorf("input is larger than the maximum of %d bytes", maxInputBytes)
	}
	return data, nil
}

// validateInput validates one input, line by line when it is NDJSON.
func validateInput(name string, data []byte, opts caliper.Options) []validateResult {
	if name == "-" {
		name = "<stdin>"
	}
	if !isNDJSON(name, data) {
		r, _ := validateDocument(name, data, opts)
		return []validateResult{r}
	}
	var out []validateResult
	firstLine := map[string]int{} // event id -> the line that first carries it
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		r, report := validateDocument(name+":"+strconv.Itoa(i+1), line, opts)
		for j, p := range r.Problems {
			// The name already gives the line; the validator counts lines
			// within the one it was given, so its "line 1" only misleads.
			r.Problems[j].Message = strings.Replace(p.Message, "invalid JSON at line 1, column ", "invalid JSON at column ", 1)
		}
		for _, it := range report.Items {
			if it.Event == nil || it.ID == "" {
				continue
			}
			first, seen := firstLine[it.ID]
			switch {
			case !seen:
				firstLine[it.ID] = i + 1
			case first != i+1: // a repeat inside one line is reported by the validator
				r.Valid = false
				r.Problems = append(r.Problems, caliper.Problem{
					Pointer:  it.Pointer + "/id",
					Severity: caliper.SeverityError,
					Message: fmt.Sprintf("event id %q repeats the id of line %d; events in one input need distinct ids",
						it.ID, first),
				})
			}
		}
		out = append(out, r)
	}
	return out
}

func validateDocument(name string, data []byte, opts caliper.Options) (validateResult, caliper.Report) {
	r := caliper.Validate(data, opts)
	problems := r.Problems
	if problems == nil {
		problems = caliper.Problems{}
	}
	return validateResult{Name: name, Kind: r.Kind.String(), Valid: r.Valid(opts), Problems: problems}, r
}

// isNDJSON reports whether data holds one JSON document per line: a .ndjson
// or .jsonl name, or several non-empty lines that each start with '{' or '['
// while the whole is not one JSON document. A pretty-printed document has
// lines that start with '"' or '}', so it is never taken for NDJSON.
func isNDJSON(name string, data []byte) bool {
	switch filepath.Ext(name) {
	case ".ndjson", ".jsonl":
		return true
	}
	lines := 0
	for line := range bytes.Lines(data) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if line[0] != '{' && line[0] != '[' {
			return false
		}
		lines++
	}
	return lines > 1 && !json.Valid(data)
}

func writeTextResult(w io.Writer, r validateResult) {
	status := "valid"
	if !r.Valid {
		status = "invalid"
	}
	fmt.Fprintf(w, "%s: %s\n", r.Name, status)
	for _, p := range r.Problems {
		pointer := p.Pointer
		if pointer == "" {
			pointer = "(document)"
		}
		if p.Severity == caliper.SeverityWarning {
			fmt.Fprintf(w, "  %s: warning: %s\n", pointer, p.Message)
		} else {
			fmt.Fprintf(w, "  %s: %s\n", pointer, p.Message)
		}
	}
}

func writeJSONReport(w io.Writer, results []validateResult, valid bool) {
	if results == nil {
		results = []validateResult{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(struct {
		Valid  bool             `json:"valid"`
		Inputs []validateResult `json:"inputs"`
	}{valid, results})
}
