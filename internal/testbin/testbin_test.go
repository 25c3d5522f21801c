package testbin

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStartServerListens(t *testing.T) {
	base := StartServer(t)
	if !strings.HasPrefix(base, "http://127.0.0.1:") || strings.HasSuffix(base, ":0") {
		t.Fatalf("base URL = %q, want http://127.0.0.1:<port>", base)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: status %d, body %s", resp.StatusCode, body)
	}
}

func TestStartUsesGivenDatabase(t *testing.T) {
	db := filepath.Join(t.TempDir(), "given.db")
	s := Start(t, "--db="+db, "--log-format", "json")
	if s.DB != db {
		t.Errorf("DB = %q, want %q", s.DB, db)
	}
	if err := s.Stop(t); err != nil {
		t.Errorf("Stop: %v\n%s", err, s.Log())
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("database file: %v", err)
	}
	if !strings.Contains(s.Log(), `"msg":"stopped"`) {
		t.Errorf("log has no stop record:\n%s", s.Log())
	}
}

func TestFlagValue(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--db", "a.db"}, "a.db"},
		{[]string{"-db", "b.db"}, "b.db"},
		{[]string{"--token", "x", "--db=c.db"}, "c.db"},
		{[]string{"--dbx", "d.db"}, ""},
		{[]string{"--db"}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := flagValue(tt.args, "db"); got != tt.want {
			t.Errorf("flagValue(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestListenLine(t *testing.T) {
	tests := []struct {
		line string
		want string
	}{
		{`time=2026-01-27T10:00:00Z level=INFO msg=listening addr=127.0.0.1:4100 db=x.db`, "127.0.0.1:4100"},
		{`{"time":"2026-01-27T10:00:00Z","level":"INFO","msg":"listening","addr":"127.0.0.1:4101"}`, "127.0.0.1:4101"},
		{`level=WARN msg="no tokens configured" addr=127.0.0.1:4102`, ""},
	}
	for _, tt := range tests {
		got := ""
		if m := listenLine.FindStringSubmatch(tt.line); m != nil {
			got = m[1]
		}
		if got != tt.want {
			t.Errorf("address in %s = %q, want %q", tt.line, got, tt.want)
		}
	}
}
