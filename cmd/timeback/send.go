package main

import (
	"context"
	"fmt"
)

func runSend(ctx context.Context, e env, args []string) int {
	fmt.Fprintln(e.stderr, "timeback send: not built yet")
	return exitFailure
}
