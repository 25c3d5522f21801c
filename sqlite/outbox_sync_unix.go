//go:build unix

package sqlite

import (
	"errors"
	"fmt"
	"os"
)

// syncFolder fsyncs the folder at path, so that the entries of files created
// in it survive a crash.
func syncFolder(path string) error {
	dir, err := os.Open(path)
	if err != nil {
		return err
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("fsync folder %s: %w", path, err)
	}
	return nil
}
