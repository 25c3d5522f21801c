//go:build unix

package sqlite

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockOutbox takes an exclusive flock on the file at path, creating it when
// missing. The kernel releases the lock when the process ends, killed or not.
func lockOutbox(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open outbox lock file %s: %w; check the permissions of its folder",
			path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is held; stop the other process or choose another outbox path",
				ErrOutboxLocked, path)
		}
		return nil, fmt.Errorf("sqlite: lock outbox %s: %w", path, err)
	}
	return f, nil
}
