package sender

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Log attribute keys of the background sender.
const (
	keyAttempt    = "attempt"
	keyError      = "err"
	keyEventIDs   = "event_ids"
	keyEvents     = "events"
	keyMessage    = "message"
	keyStatus     = "status"
	keySuppressed = "suppressed"
	keyWait       = "wait"
)

// maxLoggedIDs bounds the event ids in one retry log record.
const maxLoggedIDs = 20

// Log rate: a burst of logBurst records, then one per logInterval.
const (
	logBurst    = 10
	logInterval = time.Second
)

// rateLog is a logger that drops records past its rate and reports the count
// of dropped records in the next record it writes.
type rateLog struct {
	logger *slog.Logger
	clock  Clock

	mu         sync.Mutex
	limiter    *rate.Limiter
	suppressed int
}

func newRateLog(logger *slog.Logger, clock Clock) *rateLog {
	return &rateLog{logger: logger, clock: clock,
		limiter: rate.NewLimiter(rate.Every(logInterval), logBurst)}
}

func (l *rateLog) info(msg string, args ...any)  { l.write(slog.LevelInfo, msg, args) }
func (l *rateLog) warn(msg string, args ...any)  { l.write(slog.LevelWarn, msg, args) }
func (l *rateLog) error(msg string, args ...any) { l.write(slog.LevelError, msg, args) }

func (l *rateLog) write(level slog.Level, msg string, args []any) {
	ctx := context.Background()
	if !l.logger.Enabled(ctx, level) {
		return
	}
	l.mu.Lock()
	if !l.limiter.AllowN(l.clock.Now(), 1) {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()
	if suppressed > 0 {
		args = append(args, keySuppressed, suppressed)
	}
	l.logger.Log(ctx, level, msg, args...)
}
