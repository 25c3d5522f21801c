package timeback

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// ErrXPAboveFocus is wrapped by the error of CheckXP and ResolveXP when a
// given xpEarned is above the focused minutes of its run.
var ErrXPAboveFocus = errors.New("1 XP = 1 focused minute")

// The factors of the XP rule. Accuracy below MinAccuracyForXP earns no XP,
// accuracy from it earns the focused minutes, and a perfect score earns
// PerfectAccuracyFactor times them.
const (
	MinAccuracyForXP      = 0.8
	PerfectAccuracyFactor = 1.25
)

// MaxXPActive is the largest active time ComputeXP takes, ten years.
const MaxXPActive = 10 * 365 * 24 * time.Hour

// xpTenth is the focused time worth 0.1 XP.
const xpTenth = 6 * time.Second

// FocusedMinutes returns active time in minutes, the unit of XP.
func FocusedMinutes(active time.Duration) float64 {
	return active.Minutes()
}

// XPInput is the input of the XP rule.
type XPInput struct {
	// Active is the focused time of the run: visible and not paused.
	Active time.Duration
	// TotalQuestions and CorrectQuestions give the accuracy. Both nil, or a
	// total of 0, means the activity has no scored questions, and the
	// accuracy factor is 1.
	TotalQuestions   *float64
	CorrectQuestions *float64
	// Attempt is which attempt of the activity this run is, counted from 1.
	// Zero means 1.
	Attempt int
}

// ComputeXP returns the xpEarned of a run by the XP rule of the published
// Timeback Python SDK. The rule multiplies the focused minutes by an accuracy
// factor (0 below 80% correct, 1 from 80%, 1.25 at 100%) and by an attempt
// factor (1, 1/2 and 1/4 for attempts 1 to 3, then 0). It rounds half-up to
// one decimal, exactly, because it computes in integer nanoseconds.
func ComputeXP(in XPInput) (float64, error) {
	if in.Active < 0 || in.Active > MaxXPActive {
		return 0, xpErrorf("active", "active time %v is outside 0 to %v", in.Active, MaxXPActive)
	}
	accuracyQuarters, err := accuracyQuarters(in.TotalQuestions, in.CorrectQuestions)
	if err != nil {
		return 0, err
	}
	attemptDivisor, err := attemptDivisor(in.Attempt)
	if err != nil {
		return 0, err
	}
	if accuracyQuarters == 0 || attemptDivisor == 0 {
		return 0, nil
	}

	// tenths = active × quarters/4 ÷ divisor ÷ 6 s, rounded half-up, in
	// integers. MaxXPActive keeps 2 × active × 5 within int64.
	numerator := int64(in.Active) * accuracyQuarters
	denominator := int64(xpTenth) * 4 * attemptDivisor
	tenths := (2*numerator + denominator) / (2 * denominator)
	return float64(tenths) / 10, nil
}

// accuracyQuarters returns the accuracy factor in quarters: 0, 4 (1.0) or 5
// (1.25).
func accuracyQuarters(total, correct *float64) (int64, error) {
	if total == nil && correct == nil {
		return 4, nil
	}
	if total == nil {
		return 0, xpErrorf("totalQuestions", "totalQuestions: missing; correctQuestions %v needs it",
			*correct)
	}
	if correct == nil {
		return 0, xpErrorf("correctQuestions", "correctQuestions: missing; totalQuestions %v needs it",
			*total)
	}
	for _, q := range []struct {
		name string
		v    float64
	}{{"totalQuestions", *total}, {"correctQuestions", *correct}} {
		if math.IsNaN(q.v) || math.IsInf(q.v, 0) || q.v < 0 {
			return 0, xpErrorf(q.name, "%s: %v is not a number >= 0", q.name, q.v)
		}
	}
	if *correct > *total {
		return 0, xpErrorf("correctQuestions", "correctQuestions: %v exceeds totalQuestions %v",
			*correct, *total)
	}
	switch {
	case *total == 0:
		return 4, nil
	case *correct == *total:
		return 5, nil
	case *correct >= MinAccuracyForXP**total:
		return 4, nil
	default:
		return 0, nil
	}
}

// attemptDivisor returns 1, 2 or 4 for attempts 1 to 3, and 0 (no XP) for
// later attempts.
func attemptDivisor(attempt int) (int64, error) {
	switch {
	case attempt < 0:
		return 0, xpErrorf("attempt", "attempt: %d is negative; attempts count from 1", attempt)
	case attempt <= 1:
		return 1, nil
	case attempt == 2:
		return 2, nil
	case attempt == 3:
		return 4, nil
	default:
		return 0, nil
	}
}

// CheckXP returns an error when a given xpEarned is not a number >= 0 or is
// above the focused minutes of active time. The error for the second case
// gives both numbers and wraps ErrXPAboveFocus.
func CheckXP(xp float64, active time.Duration) error {
	return checkXPLimit(xp, active, false)
}

// checkXPLimit is CheckXP with the limit raised to PerfectAccuracyFactor
// times the focused minutes when perfect is set.
func checkXPLimit(xp float64, active time.Duration, perfect bool) error {
	if math.IsNaN(xp) || math.IsInf(xp, 0) || xp < 0 {
		return xpErrorf("xpEarned", "xpEarned: %v is not a number >= 0", xp)
	}
	minutes := FocusedMinutes(active)
	limit := fmt.Sprintf("the run's %s focused minutes", formatMinutes(minutes))
	if perfect {
		minutes *= PerfectAccuracyFactor
		limit = fmt.Sprintf("%s, %v times %s for a perfect score", formatMinutes(minutes),
			PerfectAccuracyFactor, limit)
	}
	if xp <= minutes {
		return nil
	}
	return &Error{
		Code:    CodeInvalid,
		Message: fmt.Sprintf("xpEarned: %v is above %s", xp, limit),
		Fields:  []FieldError{{Path: "xpEarned", Message: fmt.Sprintf("%v is above %s", xp, limit)}},
		Err:     ErrXPAboveFocus,
	}
}

// ResolveXP returns the xpEarned of a completion: given, or computed by
// ComputeXP when given is nil. Unless allowAboveFocus is set, a given value
// may not exceed the most the XP rule gives for the input: the focused
// minutes, or PerfectAccuracyFactor times them when every question is right.
func ResolveXP(given *float64, in XPInput, allowAboveFocus bool) (float64, error) {
	if given == nil {
		return ComputeXP(in)
	}
	quarters, err := accuracyQuarters(in.TotalQuestions, in.CorrectQuestions)
	if err != nil {
		return 0, err
	}
	if allowAboveFocus {
		if math.IsNaN(*given) || math.IsInf(*given, 0) || *given < 0 {
			return 0, xpErrorf("xpEarned", "xpEarned: %v is not a number >= 0", *given)
		}
		return *given, nil
	}
	perfect := quarters == 5 && in.TotalQuestions != nil && *in.TotalQuestions > 0
	if err := checkXPLimit(*given, in.Active, perfect); err != nil {
		return 0, err
	}
	return *given, nil
}

// formatMinutes writes minutes with at most three decimals, so that a run of
// 10 min 15 s reads 10.25.
func formatMinutes(m float64) string {
	return strconv.FormatFloat(math.Round(m*1000)/1000, 'f', -1, 64)
}

func xpErrorf(field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{
		Code:    CodeInvalid,
		Message: msg,
		Fields:  []FieldError{{Path: field, Message: msg}},
	}
}
