//go:build !unix

package sqlite

import (
	"fmt"
	"os"
)

// lockOutbox creates the lock file at path.
//
// NOTE: outside Unix the file is not locked, so two processes can open the
// same outbox and send its events twice; the endpoint removes the duplicates.
func lockOutbox(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open outbox lock file %s: %w; check the permissions of its folder",
			path, err)
	}
	return f, nil
}
