package main

import (
	"context"
	"fmt"
)

func runServe(ctx context.Context, e env, args []string) int {
	fmt.Fprintln(e.stderr, "timeback serve: not built yet")
	return exitFailure
}
