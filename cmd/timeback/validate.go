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

	"github.com/timeback/timeback-go/caliper"
)

const validateUsage = `Usage: timeback validate [--strict] [--json] PATH|- ...

Checks each input against Caliper 1.2 and the TimebackProfile. An input may be
one event, one entity, an envelope, a JSON array of events, or NDJSON (one
document per line, reported as PATH:LINE). "-" reads standard input.

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
			writeTextResult(e.stdout, r)
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

func readInput(e env, name string) ([]byte, error) {
	if name == "-" {
		data, err := io.ReadAll(e.stdin)
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return data, nil
	}
	return os.ReadFile(name)
}

// validateInput validates one input, line by line when it is NDJSON.
func validateInput(name string, data []byte, opts caliper.Options) []validateResult {
	if name == "-" {
		name = "<stdin>"
	}
	if !isNDJSON(name, data) {
		return []validateResult{validateDocument(name, data, opts)}
	}
	var out []validateResult
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		out = append(out, validateDocument(name+":"+strconv.Itoa(i+1), line, opts))
	}
	return out
}

func validateDocument(name string, data []byte, opts caliper.Options) validateResult {
	r := caliper.Validate(data, opts)
	problems := r.Problems
	if problems == nil {
		problems = caliper.Problems{}
	}
	return validateResult{Name: name, Kind: r.Kind.String(), Valid: r.Valid(opts), Problems: problems}
}

// isNDJSON reports whether data holds one JSON document per line: a .ndjson
// or .jsonl name, or several non-empty lines of which the first is a complete
// JSON object on its own.
func isNDJSON(name string, data []byte) bool {
	switch filepath.Ext(name) {
	case ".ndjson", ".jsonl":
		return true
	}
	first, rest, found := bytes.Cut(bytes.TrimSpace(data), []byte("\n"))
	if !found || len(bytes.TrimSpace(rest)) == 0 {
		return false
	}
	first = bytes.TrimSpace(first)
	return len(first) > 0 && first[0] == '{' && json.Valid(first)
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
