package main

import (
	"context"
	"fmt"
)

func runOutbox(ctx context.Context, e env, args []string) int {
	fmt.Fprintln(e.stderr, "timeback outbox: not built yet")
	return exitFailure
}
