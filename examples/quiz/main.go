// Command quiz serves a small quiz page whose time and completion reach a
// Caliper endpoint. The page runs the browser client of package web. The
// web handler turns its heartbeats into TimeSpentEvents and an
// ActivityCompletedEvent, and a sender with a durable outbox delivers them.
//
// Run it next to a local endpoint:
//
//	go run ./cmd/timeback serve --addr 127.0.0.1:8080 --db /tmp/quiz.db
//	go run ./examples/quiz --endpoint http://127.0.0.1:8080
//
// then open http://127.0.0.1:8081/. The query parameters heartbeatMs and
// hiddenTimeoutMs shorten the client's intervals, such as
// http://127.0.0.1:8081/?heartbeatMs=2000&hiddenTimeoutMs=5000.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/oneroster"
	"github.com/timeback/timeback-go/sender"
	"github.com/timeback/timeback-go/web"
)

//go:embed index.html
var indexHTML []byte

// config is the parsed command line.
type config struct {
	addr     string
	endpoint string
	token    string
	outbox   string
	student  string
	// studentID is the sourcedId of the static student.
	studentID  string
	rosterBase string
	// leeway is the time guard's allowance for network jitter; 0 means the
	// handler's default.
	leeway time.Duration

	// OneRoster lookup instead of the static student, when oneroster is set.
	oneroster    string
	tokenURL     string
	clientID     string
	clientSecret string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, os.Args[1:], logger, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "quiz:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("quiz", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8081", "address the quiz page listens on")
	fs.StringVar(&cfg.endpoint, "endpoint", "http://127.0.0.1:8080", "base URL of the Caliper endpoint, such as timeback serve")
	fs.StringVar(&cfg.token, "token", "", "Bearer token for the endpoint, if it requires one")
	fs.StringVar(&cfg.outbox, "outbox", filepath.Join(os.TempDir(), "timeback-quiz-outbox.db"),
		"SQLite file of the sender's durable outbox")
	fs.StringVar(&cfg.student, "student", "student@example.com", "e-mail address of the signed-in student")
	fs.StringVar(&cfg.studentID, "student-id", "student-1", "OneRoster sourcedId of the static student")
	fs.StringVar(&cfg.rosterBase, "roster-base", "https://roster.example.com",
		"OneRoster base URL that forms the static student's actor id")
	fs.DurationVar(&cfg.leeway, "leeway", 0,
		"time a heartbeat may claim beyond the wall time since the previous one (0: the default, 2s)")
	fs.StringVar(&cfg.oneroster, "oneroster", "", "OneRoster base URL to look the student up in, instead of the static student")
	fs.StringVar(&cfg.tokenURL, "oneroster-token-url", "", "OAuth2 token URL of the OneRoster service")
	fs.StringVar(&cfg.clientID, "oneroster-client-id", "", "OAuth2 client id for OneRoster")
	secretFile := fs.String("oneroster-client-secret-file", "", "file with the OAuth2 client secret for OneRoster")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q; the quiz takes only flags", fs.Arg(0))
	}
	if *secretFile != "" {
		data, err := os.ReadFile(*secretFile)
		if err != nil {
			return cfg, fmt.Errorf("read --oneroster-client-secret-file: %w", err)
		}
		cfg.clientSecret = strings.TrimSpace(string(data))
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, logger *slog.Logger, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	a, err := newApp(cfg, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		a.close(context.Background())
		return err
	}
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	logger.Info("quiz listening", slog.String("url", "http://"+ln.Addr().String()+"/"),
		slog.String("endpoint", cfg.endpoint), slog.String("outbox", cfg.outbox))

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err = <-served:
	case <-ctx.Done():
	}

	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutdown); serr != nil && err == nil {
		err = serr
	}
	if cerr := a.close(shutdown); cerr != nil && err == nil {
		err = cerr
	}
	logger.Info("quiz stopped")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// app is the quiz's HTTP handler with the sender behind it.
type app struct {
	handler http.Handler
	web     *web.Handler
	sender  *sender.Client
}

func newApp(cfg config, logger *slog.Logger) (*app, error) {
	resolver, err := newResolver(cfg, logger)
	if err != nil {
		return nil, err
	}
	client, err := sender.New(sender.Config{
		Environment: cfg.endpoint,
		Token:       cfg.token,
		OutboxPath:  cfg.outbox,
		Logger:      logger,
	})
	if err != nil {
		return nil, err
	}

	reg := prometheus.NewRegistry()
	h, err := web.New(web.Config{
		Resolver:   resolver,
		Sink:       client,
		AppName:    "Quiz example",
		Leeway:     cfg.leeway,
		Logger:     logger,
		Registerer: reg,
	})
	if err != nil {
		client.Close(context.Background())
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle(h.Prefix()+"/", h)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(indexHTML)
	})
	return &app{handler: mux, web: h, sender: client}, nil
}

func newResolver(cfg config, logger *slog.Logger) (timeback.Resolver, error) {
	// A real app reads the e-mail address from its own session.
	email := func(*http.Request) (string, error) { return cfg.student, nil }
	if cfg.oneroster != "" {
		return oneroster.New(oneroster.Config{
			BaseURL:      cfg.oneroster,
			TokenURL:     cfg.tokenURL,
			ClientID:     cfg.clientID,
			ClientSecret: cfg.clientSecret,
			Email:        email,
			Logger:       logger,
		})
	}
	base := strings.TrimRight(cfg.rosterBase, "/")
	return oneroster.Static{Users: []timeback.User{{
		ID:    base + oneroster.UsersPath + "/" + cfg.studentID,
		Email: cfg.student,
	}}}, nil
}

// close delivers what the outbox holds while ctx allows and closes it;
// what remains is sent by the next start.
func (a *app) close(ctx context.Context) error {
	return a.sender.Close(ctx)
}
