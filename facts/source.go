package facts

import (
	"context"
	"time"
)

// Query selects stored facts. Its zero value selects everything.
type Query struct {
	// StudentID and Sensor match exactly when non-empty.
	StudentID string
	Sensor    string
	// RunID matches the run id exactly when non-empty, whatever the
	// student.
	RunID string
	// Runs, when non-empty, restricts the facts to these runs.
	Runs []RunKey
	// Start and End select windows that overlap [Start, End) and
	// completions whose time is in it. A zero bound is open.
	Start time.Time
	End   time.Time
}

// Source reads stored facts. The SQLite and PostgreSQL stores implement it.
type Source interface {
	// Facts returns the windows and completions that match q, ordered by
	// store order. Windows may reach beyond q's bounds; Daily clips them.
	Facts(ctx context.Context, q Query) ([]Window, []Completion, error)
	// Students returns the ids of the students with facts from sensor,
	// sorted, or of all students when sensor is empty.
	Students(ctx context.Context, sensor string) ([]string, error)
	// Sensors returns the sensors that sent facts, sorted.
	Sensors(ctx context.Context) ([]string, error)
}
