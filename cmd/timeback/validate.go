package main

import (
	"context"
	"fmt"
)

func runValidate(ctx context.Context, e env, args []string) int {
	fmt.Fprintln(e.stderr, "timeback validate: not built yet")
	return exitFailure
}
