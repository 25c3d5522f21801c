package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	timeback "github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/analytics"
	"github.com/timeback/timeback-go/endpoint"
	"github.com/timeback/timeback-go/facts"
	"github.com/timeback/timeback-go/facts/sqlfacts"
	"github.com/timeback/timeback-go/postgres"
	"github.com/timeback/timeback-go/sqlite"
)

const serveUsage = `Usage: timeback serve [flags]

Runs a Caliper 1.2 endpoint with the routes of the Timeback Caliper API,
stores the events in SQLite or PostgreSQL, keeps learning facts on ingest
and serves them under /analytics/ and /dashboard/. Without --token or
--token-file it serves only on a loopback address.

Flags:
`

// serveConfig is the parsed command line of timeback serve.
type serveConfig struct {
	addr            string
	db              string // a SQLite file, or a PostgreSQL URL when postgres is set
	postgres        bool
	facts           bool
	tokens          []string
	maxBody         int64
	strict          bool
	readTimeout     time.Duration
	headerTimeout   time.Duration
	writeTimeout    time.Duration
	idleTimeout     time.Duration
	shutdownTimeout time.Duration
	logFormat       string
	logLevel        slog.Level
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return fmt.Sprint(len(*l), " values") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func parseServeFlags(args []string, stderr io.Writer) (*serveConfig, error) {
	cfg := &serveConfig{}
	var tokens stringList
	var tokenFile, logLevel string
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, serveUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "`host:port` to listen on; port 0 picks a free port")
	fs.StringVar(&cfg.db, "db", "timeback.db", "`database`: a SQLite file, created when missing (optionally sqlite:PATH), or a postgres:// URL")
	fs.BoolVar(&cfg.facts, "facts", true, "keep learning facts on ingest and serve /analytics/ and /dashboard/; PostgreSQL always keeps them")
	fs.Var(&tokens, "token", "accepted Bearer `token`; repeat for several (prefer --token-file: a command line is visible to other users)")
	fs.StringVar(&tokenFile, "token-file", "", "`file` with one accepted Bearer token per line; blank lines and lines starting with # are skipped")
	fs.Int64Var(&cfg.maxBody, "max-body", endpoint.DefaultMaxBodyBytes, "largest accepted envelope in `bytes`")
	fs.BoolVar(&cfg.strict, "strict", false, "reject envelopes with validator warnings, such as an eventTime without milliseconds")
	fs.DurationVar(&cfg.readTimeout, "read-timeout", 30*time.Second, "time allowed to read a whole request, headers and body")
	fs.DurationVar(&cfg.headerTimeout, "read-header-timeout", 10*time.Second, "time allowed to read the request headers")
	fs.DurationVar(&cfg.writeTimeout, "write-timeout", 30*time.Second, "time allowed from the end of the request headers to the end of the reply")
	fs.DurationVar(&cfg.idleTimeout, "idle-timeout", 2*time.Minute, "time a keep-alive connection may wait for its next request")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 30*time.Second, "time allowed for requests in flight after SIGINT or SIGTERM")
	fs.StringVar(&cfg.logFormat, "log-format", "text", "log format on standard error: text or json")
	fs.StringVar(&logLevel, "log-level", "info", "lowest level logged: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: timeback serve takes flags only", fs.Arg(0))
	}

	cfg.tokens = tokens
	if tokenFile != "" {
		fromFile, err := readTokenFile(tokenFile)
		if err != nil {
			return nil, err
		}
		cfg.tokens = append(cfg.tokens, fromFile...)
	}
	for i, tok := range cfg.tokens {
		if strings.TrimSpace(tok) == "" {
			return nil, fmt.Errorf("invalid --token %d: empty token", i+1)
		}
	}
	if cfg.maxBody <= 0 {
		return nil, fmt.Errorf("invalid --max-body %d: use a positive number of bytes", cfg.maxBody)
	}
	if cfg.logFormat != "text" && cfg.logFormat != "json" {
		return nil, fmt.Errorf("invalid --log-format %q: use text or json", cfg.logFormat)
	}
	if err := cfg.logLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return nil, fmt.Errorf("invalid --log-level %q: use debug, info, warn or error", logLevel)
	}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{{"read-timeout", cfg.readTimeout}, {"read-header-timeout", cfg.headerTimeout},
		{"write-timeout", cfg.writeTimeout}, {"idle-timeout", cfg.idleTimeout},
		{"shutdown-timeout", cfg.shutdownTimeout}} {
		if d.value <= 0 {
			return nil, fmt.Errorf("invalid --%s %v: use a positive duration such as 30s", d.name, d.value)
		}
	}

	switch {
	case strings.HasPrefix(cfg.db, "postgres://") || strings.HasPrefix(cfg.db, "postgresql://"):
		cfg.postgres, cfg.facts = true, true
	default:
		cfg.db = strings.TrimPrefix(cfg.db, "sqlite:")
		if cfg.db == "" {
			return nil, errors.New("missing --db: give a SQLite database file or a postgres:// URL")
		}
	}
	if len(cfg.tokens) == 0 && !isLoopback(cfg.addr) {
		return nil, fmt.Errorf("invalid --addr %s without authentication: it is not a loopback address, "+
			"so give --token or --token-file, or listen on 127.0.0.1", cfg.addr)
	}
	return cfg, nil
}

// redactURL hides the password of a database URL, in its user
// information or in a password query parameter.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unreadable database URL)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

func readTokenFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read --token-file: %w", err)
	}
	defer f.Close()
	var tokens []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		tokens = append(tokens, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read --token-file %s: %w", path, err)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("invalid --token-file %s: it contains no token", path)
	}
	return tokens, nil
}

// isLoopback reports whether addr's host is a loopback address or
// "localhost". An empty host listens on every interface, so it is not.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func newLogger(cfg *serveConfig, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.logLevel}
	if cfg.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func runServe(ctx context.Context, e env, args []string) int {
	cfg, err := parseServeFlags(args, e.stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "timeback serve: %v\n", err)
		return exitUsage
	}
	log := newLogger(cfg, e.stderr)
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("serve failed", "error", err)
		return exitFailure
	}
	return exitOK
}

// serve runs the endpoint until ctx ends, then lets requests in flight
// finish, commits what they queued and closes the database.
func serve(ctx context.Context, cfg *serveConfig, log *slog.Logger) error {
	dbName := cfg.db
	if cfg.postgres {
		dbName = redactURL(cfg.db)
	}
	store, source, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("close database failed", "db", dbName, "error", err)
			return
		}
		log.Info("stopped", "db", dbName)
	}()

	h, err := endpoint.New(endpoint.Config{
		Store:        store,
		Tokens:       cfg.tokens,
		MaxBodyBytes: cfg.maxBody,
		Strict:       cfg.strict,
		Logger:       log,
	})
	if err != nil {
		return err
	}
	defer h.Close()
	if source != nil {
		acfg := analytics.Config{Source: source, Logger: log}
		if len(cfg.tokens) > 0 {
			acfg.SignOutPath = "/dashboard/logout"
		}
		a, err := analytics.New(acfg)
		if err != nil {
			return err
		}
		for _, pattern := range analytics.Patterns {
			h.Handle(pattern, a)
		}
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadTimeout:       cfg.readTimeout,
		ReadHeaderTimeout: cfg.headerTimeout,
		WriteTimeout:      cfg.writeTimeout,
		IdleTimeout:       cfg.idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	// testbin and scripts read the address from this record, so its
	// message and the addr key stay as they are.
	auth := "bearer"
	if len(cfg.tokens) == 0 {
		auth = "none"
		log.Warn("no tokens configured: serving on loopback only without authentication", "addr", ln.Addr().String())
	}
	log.Info("listening", "addr", ln.Addr().String(), "db", dbName, "facts", source != nil, "auth", auth,
		"tokens", len(cfg.tokens), "max_body_bytes", cfg.maxBody, "version", endpoint.Version)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	log.Info("stopping: finishing requests in flight", "timeout", cfg.shutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	h.Close()
	if err != nil {
		srv.Close()
		log.Warn("requests still in flight at the shutdown timeout were cut off", "error", err)
	}
	return nil
}

// openStore opens the event store that --db names. With facts on, SQLite
// keeps them in the same file and transactions as the events; PostgreSQL
// always does. The facts source is nil when facts are off.
func openStore(ctx context.Context, cfg *serveConfig) (timeback.EventStore, facts.Source, error) {
	if cfg.postgres {
		s, err := postgres.Open(ctx, cfg.db, postgres.Config{})
		if err != nil {
			return nil, nil, err
		}
		return s, s, nil
	}
	if !cfg.facts {
		s, err := sqlite.Open(ctx, cfg.db, sqlite.Config{})
		return s, nil, err
	}

	// The fact writer runs only on Append, so the facts tables exist
	// before the first envelope arrives.
	s, err := sqlite.Open(ctx, cfg.db, sqlite.Config{Facts: sqlfacts.Writer{}})
	if err != nil {
		return nil, nil, err
	}
	if err := sqlfacts.Migrate(ctx, s.DB()); err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, sqlfacts.Reader{DB: s.DB()}, nil
}
