package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCommand runs the CLI in-process and returns its exit status and output.
func runCommand(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), env{strings.NewReader(stdin), &stdout, &stderr}, args)
	return code, stdout.String(), stderr.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func example(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestValidateValidFiles(t *testing.T) {
	a := writeFile(t, "a.json", example(t, "activity_completed.json"))
	b := writeFile(t, "b.json", example(t, "time_spent.json"))
	code, out, errOut := runCommand(t, "", "validate", a, b)
	if code != exitOK {
		t.Fatalf("got exit %d, stderr %q, want 0", code, errOut)
	}
	if want := a + ": valid\n" + b + ": valid\n"; out != want {
		t.Errorf("got %q, want %q", out, want)
	}
}

func TestValidateInvalidFile(t *testing.T) {
	bad := strings.Replace(example(t, "time_spent.json"), `"value": 15`, `"value": 86401`, 1)
	path := writeFile(t, "bad.json", bad)
	code, out, _ := runCommand(t, "", "validate", path)
	if code != exitFailure {
		t.Errorf("got exit %d, want 1", code)
	}
	want := path + ": invalid\n  /generated/items/0/value: 86401 exceeds the 86400 s maximum\n"
	if !strings.HasPrefix(out, want) {
		t.Errorf("got %q, want it to start with %q", out, want)
	}
}

func TestValidateStrictWarnings(t *testing.T) {
	warned := strings.Replace(example(t, "activity_completed.json"), "10:03:00.000Z", "10:03:00Z", 1)
	path := writeFile(t, "w.json", warned)
	code, out, _ := runCommand(t, "", "validate", path)
	if code != exitOK || !strings.Contains(out, "  /eventTime: warning: eventTime \"2026-01-27T10:03:00Z\" has no milliseconds") {
		t.Errorf("got exit %d, output %q; want valid with a warning", code, out)
	}
	code, out, _ = runCommand(t, "", "validate", path, "--strict")
	if code != exitFailure || !strings.Contains(out, path+": invalid") {
		t.Errorf("strict: got exit %d, output %q; want invalid", code, out)
	}
}

func TestValidateNDJSON(t *testing.T) {
	good := strings.Join(strings.Fields(example(t, "time_spent.json")), " ")
	bad := strings.Replace(good, `"type": "TimeSpentEvent"`, `"type": "TimeSpent"`, 1)
	path := writeFile(t, "events.ndjson", good+"\n\n"+bad+"\n")
	code, out, _ := runCommand(t, "", "validate", path)
	if code != exitFailure {
		t.Errorf("got exit %d, want 1", code)
	}
	if !strings.Contains(out, path+":1: valid\n") || !strings.Contains(out, path+":3: invalid\n") {
		t.Errorf("got %q, want line 1 valid and line 3 invalid", out)
	}
}

func TestValidateStdinJSON(t *testing.T) {
	code, out, _ := runCommand(t, "[1e400]", "validate", "--json", "-")
	if code != exitFailure {
		t.Errorf("got exit %d, want 1", code)
	}
	var report struct {
		Valid  bool
		Inputs []struct {
			Name     string
			Valid    bool
			Problems []struct{ Path, Severity, Message string }
		}
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if report.Valid || len(report.Inputs) != 1 || report.Inputs[0].Name != "<stdin>" {
		t.Fatalf("got %+v", report)
	}
	p := report.Inputs[0].Problems
	if len(p) == 0 || p[0].Path != "/0" || p[0].Severity != "error" || !strings.Contains(p[0].Message, "1e400") {
		t.Errorf("got problems %+v, want 1e400 at /0", p)
	}
}

func TestValidateBadInputs(t *testing.T) {
	for _, in := range []string{"", "not json", `"x"`, "42", "\xEF\xBB\xBF{}", "{\"a\":\"\xff\"}", "-0", "NaN",
		strings.Repeat("[", 1<<20)} {
		path := writeFile(t, "in.json", in)
		code, out, _ := runCommand(t, "", "validate", path)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != exitFailure || len(lines) != 2 || lines[0] != path+": invalid" {
			t.Errorf("input %.20q: got exit %d, output %q; want exit 1 and one problem", in, code, out)
		}
	}
}

func TestValidateUsageErrors(t *testing.T) {
	if code, _, _ := runCommand(t, "", "validate"); code != exitUsage {
		t.Errorf("no arguments: got exit %d, want 2", code)
	}
	if code, _, _ := runCommand(t, "", "validate", "--bogus", "x.json"); code != exitUsage {
		t.Errorf("unknown flag: got exit %d, want 2", code)
	}
	missing := filepath.Join(t.TempDir(), "missing.json")
	code, _, errOut := runCommand(t, "", "validate", missing)
	if code != exitUsage || !strings.Contains(errOut, "missing.json") {
		t.Errorf("missing file: got exit %d, stderr %q; want 2 naming the file", code, errOut)
	}
}

func TestValidateNDJSONDuplicateIDs(t *testing.T) {
	event := strings.Join(strings.Fields(example(t, "time_spent.json")), " ")
	other := strings.Replace(event, "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "a1b2c3d4-e5f6-4890-abcd-ef1234567890", 1)
	path := writeFile(t, "events.ndjson", event+"\n"+other+"\n"+event+"\n")
	code, out, _ := runCommand(t, "", "validate", path)
	if code != exitFailure {
		t.Errorf("got exit %d, want 1", code)
	}
	want := path + ":1: valid\n" + path + ":2: valid\n" + path + ":3: invalid\n" +
		`  /id: event id "urn:uuid:a1b2c3d4-e5f6-7890-abcd-ef1234567890" repeats the id of line 1; ` +
		"events in one input need distinct ids\n"
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func TestValidateNDJSONBadFirstLine(t *testing.T) {
	event := strings.Join(strings.Fields(example(t, "time_spent.json")), " ")
	path := writeFile(t, "events.txt", "{\"id\":\n"+event+"\n")
	code, out, _ := runCommand(t, "", "validate", path)
	if code != exitFailure {
		t.Errorf("got exit %d, want 1", code)
	}
	if !strings.HasPrefix(out, path+":1: invalid\n") || !strings.Contains(out, path+":2: valid\n") {
		t.Errorf("got %q, want line 1 invalid and line 2 valid", out)
	}
}

func TestValidatePrettyPrintedNotNDJSON(t *testing.T) {
	path := writeFile(t, "event.txt", example(t, "time_spent.json"))
	code, out, _ := runCommand(t, "", "validate", path)
	if code != exitOK || out != path+": valid\n" {
		t.Errorf("got exit %d, output %q; want one valid document", code, out)
	}
}

func TestValidateStdinTwice(t *testing.T) {
	code, out, errOut := runCommand(t, example(t, "time_spent.json"), "validate", "-", "-")
	if code != exitUsage {
		t.Errorf("got exit %d, want 2", code)
	}
	if out != "" || !strings.Contains(errOut, `"-" is given more than once`) {
		t.Errorf("got stdout %q, stderr %q; want a usage error about -", out, errOut)
	}
}

func TestValidateDirectory(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := runCommand(t, "", "validate", dir)
	if want := "timeback validate: read " + dir + ": is a directory\n"; code != exitUsage || errOut != want {
		t.Errorf("got exit %d, stderr %q; want 2 and %q", code, errOut, want)
	}
}

func TestValidateEndlessInput(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero on this system")
	}
	defer func(n int64) { maxInputBytes = n }(maxInputBytes)
	maxInputBytes = 1 << 20
	code, out, errOut := runCommand(t, "", "validate", "/dev/zero")
	if code != exitUsage {
		t.Errorf("got exit %d, want 2", code)
	}
	if out != "" || !strings.Contains(errOut, "read /dev/zero: input is larger than the maximum of 1048576 bytes") {
		t.Errorf("got stdout %q, stderr %q; want the size limit named", out, errOut)
	}
}

func TestValidateJSONReadError(t *testing.T) {
	good := writeFile(t, "a.json", example(t, "time_spent.json"))
	missing := filepath.Join(t.TempDir(), "missing.json")
	code, out, _ := runCommand(t, "", "validate", "--json", good, missing)
	if code != exitUsage {
		t.Errorf("got exit %d, want 2", code)
	}
	var report struct {
		Valid  bool
		Inputs []struct {
			Name, Error string
			Valid       bool
		}
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if report.Valid || len(report.Inputs) != 2 {
		t.Fatalf("got %+v, want two inputs and valid false", report)
	}
	if got := report.Inputs[1]; got.Name != missing || got.Valid || !strings.Contains(got.Error, "no such file") {
		t.Errorf("got %+v, want the missing file with its read error", got)
	}
}

func TestValidateNDJSONSyntaxColumn(t *testing.T) {
	event := strings.Join(strings.Fields(example(t, "time_spent.json")), " ")
	path := writeFile(t, "events.ndjson", event+"\n{\"id\": }\n")
	_, out, _ := runCommand(t, "", "validate", path)
	want := path + ":2: invalid\n  (document): invalid JSON at column 8: unexpected character '}', expected a value\n"
	if !strings.HasSuffix(out, want) {
		t.Errorf("got %q, want it to end with %q", out, want)
	}
}
