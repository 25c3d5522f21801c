// Command timeback validates, sends, collects and reports IMS Caliper 1.2
// events of the TimebackProfile.
//
// Usage:
//
//	timeback <command> [flags] [arguments]
//
// Run "timeback help" for the list of commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

// env is the part of the process a command may use: its standard streams.
// Tests run commands in-process with streams of their own.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e env, args []string) int
}

// commands lists the subcommands, each defined in the file of its name.
var commands = []command{
	{"validate", "check Caliper events, entities and envelopes in files", runValidate},
	{"serve", "run a Caliper endpoint that stores events", runServe},
	{"send", "deliver events from files through the durable outbox", runSend},
	{"outbox", "inspect the outbox and requeue dead letters", runOutbox},
	{"demo", "run a simulated student end to end on a temporary server", runDemo},
	{"report", "print per-day learning facts of a student", runReport},
}

// Exit statuses shared by the subcommands.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and found a problem
	exitUsage   = 2 // bad flags or arguments, or an input that cannot be read
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal cancels ctx so that the command can shut down in
	// order. Releasing the handler then lets a second signal end the process
	// at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, env{os.Stdin, os.Stdout, os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, e env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "timeback: unknown command %q\n", args[0])
	usage(e.stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: timeback <command> [flags] [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "timeback <command> -h" for the flags of a command.`)
}

// countEvents returns n with the noun event, singular for one.
func countEvents(n int) string {
	if n == 1 {
		return "1 event"
	}
	return fmt.Sprintf("%d events", n)
}

// errStdinTwice is the error for "-" given more than once among the inputs.
var errStdinTwice = errors.New(`"-" is given more than once; standard input can be read only once`)

// readsStdinTwice reports whether "-" appears more than once in paths.
func readsStdinTwice(paths []string) bool {
	i := slices.Index(paths, "-")
	return i >= 0 && slices.Contains(paths[i+1:], "-")
}

// flagSetEmpty reports whether the flag name was given with an empty value,
// which the flags with a default path would otherwise read as the default.
func flagSetEmpty(fs *flag.FlagSet, name string) bool {
	empty := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name && f.Value.String() == "" {
			empty = true
		}
	})
	return empty
}
