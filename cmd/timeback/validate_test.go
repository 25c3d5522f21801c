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
