// Package testbin builds the timeback command and runs it in end-to-end
// tests.
//
//	func TestServeStores(t *testing.T) {
//		base := testbin.StartServer(t, "--token", "secret")
//		resp, err := http.Get(base + "/healthz")
//		...
//	}
//
// The binary is built once per test process. Servers listen on
// 127.0.0.1:0, use a database in the test's temporary folder unless the
// arguments name one, and are stopped when the test ends.
package testbin

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StartTimeout bounds how long Start waits for the server to log its
// listening address.
const StartTimeout = 30 * time.Second

// StopTimeout bounds how long a stop waits after SIGTERM before it kills the
// server.
const StopTimeout = 10 * time.Second

var build struct {
	once sync.Once
	path string
	err  error
}

// Build builds cmd/timeback once per test process into a temporary folder
// and returns the binary's path. It fails the test when the build fails.
func Build(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		build.path, build.err = buildBinary()
	})
	if build.err != nil {
		t.Fatalf("testbin: %v", build.err)
	}
	return build.path
}

// NOTE: the folder with the binary is left in the system's temporary folder
// when the test process ends, because no test owns it.
func buildBinary() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "timeback-testbin-")
	if err != nil {
		return "", fmt.Errorf("create build folder: %w", err)
	}
	bin := filepath.Join(dir, "timeback")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("find the go command: %w", err)
	}
	cmd := exec.Command(goTool, "build", "-o", bin, "./cmd/timeback")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/timeback failed: %w\n%s", err, out)
	}
	return bin, nil
}

// moduleRoot returns the folder of go.mod, two levels above this file.
func moduleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the testbin source file")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	return root, nil
}

// Server is a running "timeback serve" process.
type Server struct {
	// URL is the base URL, such as "http://127.0.0.1:41234".
	URL string
	// Addr is the listening address, such as "127.0.0.1:41234".
	Addr string
	// DB is the value passed to --db.
	DB string

	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // the result of Wait, set before done is closed
}

// StartServer starts "timeback serve --addr 127.0.0.1:0" with args, waits
// until it listens and returns its base URL. The server stops when the test
// ends.
func StartServer(t testing.TB, args ...string) string {
	t.Helper()
	return Start(t, args...).URL
}

// Start is StartServer returning the process, for tests that stop, kill or
// restart the server. Without a --db argument the server gets a new
// database file in t.TempDir().
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	bin := Build(t)
	db := flagValue(args, "db")
	if db == "" {
		db = filepath.Join(t.TempDir(), "timeback.db")
		args = append([]string{"--db", db}, args...)
	}
	args = append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)

	s := &Server{DB: db, stderr: &syncBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(bin, args...)
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatalf("testbin: %v", err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("testbin: start %s: %v", bin, err)
	}

	addrc := make(chan string, 1)
	go s.readLog(stderr, addrc)
	t.Cleanup(func() {
		s.Stop(t)
		if t.Failed() {
			t.Logf("timeback serve log:\n%s", s.Log())
		}
	})

	select {
	case addr := <-addrc:
		s.Addr = addr
		s.URL = "http://" + addr
	case <-s.done:
		t.Fatalf("testbin: timeback serve exited before listening: %v\n%s", s.err, s.Log())
	case <-time.After(StartTimeout):
		t.Fatalf("testbin: timeback serve did not log its address within %v\n%s", StartTimeout, s.Log())
	}
	return s
}

// listenLine matches the start-up log line of timeback serve in the text or
// the JSON format of log/slog, and captures the address.
var listenLine = regexp.MustCompile(`(?:msg=listening|"msg":"listening").*?(?:\baddr=|"addr":")([0-9.:\[\]a-f]+)`)

// readLog copies the server's stderr into the log buffer, sends the
// listening address on addrc once, and reaps the process at end of file.
func (s *Server) readLog(r io.Reader, addrc chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	sent := false
	for sc.Scan() {
		line := sc.Text()
		s.stderr.WriteLine(line)
		if !sent {
			if m := listenLine.FindStringSubmatch(line); m != nil {
				addrc <- m[1]
				sent = true
			}
		}
	}
	io.Copy(io.Discard, r)
	s.err = s.cmd.Wait()
	close(s.done)
}

// Log returns what the server has written to stderr so far.
func (s *Server) Log() string { return s.stderr.String() }

// Stop sends SIGTERM, waits for the server to exit and returns its exit
// error, nil for a clean exit. After StopTimeout it kills the server and
// fails the test. Stop may be called more than once.
func (s *Server) Stop(t testing.TB) error {
	t.Helper()
	select {
	case <-s.done:
		return s.err
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return s.err
	case <-time.After(StopTimeout):
		s.cmd.Process.Kill()
		t.Errorf("testbin: timeback serve did not stop within %v of SIGTERM", StopTimeout)
		select {
		case <-s.done:
		case <-time.After(StopTimeout):
			t.Errorf("testbin: timeback serve did not end within %v of SIGKILL either", StopTimeout)
			return errors.New("testbin: timeback serve did not end")
		}
		return s.err
	}
}

// Kill sends SIGKILL and waits until the process is gone, as a crash would
// end it.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(StopTimeout):
		t.Fatalf("testbin: timeback serve did not end within %v of SIGKILL", StopTimeout)
	}
}

// flagValue returns the value of --name or -name in args, in either the
// "--name value" or the "--name=value" form.
func flagValue(args []string, name string) string {
	for i, a := range args {
		for _, prefix := range []string{"--" + name, "-" + name} {
			if a == prefix && i+1 < len(args) {
				return args[i+1]
			}
			if v, ok := strings.CutPrefix(a, prefix+"="); ok {
				return v
			}
		}
	}
	return ""
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) WriteLine(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(line)
	b.buf.WriteByte('\n')
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
