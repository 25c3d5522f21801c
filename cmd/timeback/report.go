package main

import (
	"context"
	"fmt"
)

func runReport(ctx context.Context, e env, args []string) int {
	fmt.Fprintln(e.stderr, "timeback report: not built yet")
	return exitFailure
}
