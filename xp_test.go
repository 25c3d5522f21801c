package timeback

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func xpFloat(v float64) *float64 { return &v }

func TestComputeXP(t *testing.T) {
	tests := []struct {
		name    string
		in      XPInput
		want    float64
		wantErr string
	}{
		{"no questions", XPInput{Active: 10 * time.Minute}, 10, ""},
		{"zero time", XPInput{}, 0, ""},
		{"zero questions", XPInput{Active: 10 * time.Minute, TotalQuestions: xpFloat(0),
			CorrectQuestions: xpFloat(0)}, 10, ""},
		{"accuracy 80%", XPInput{Active: 10 * time.Minute, TotalQuestions: xpFloat(10),
			CorrectQuestions: xpFloat(8)}, 10, ""},
		{"accuracy 79%", XPInput{Active: 10 * time.Minute, TotalQuestions: xpFloat(100),
			CorrectQuestions: xpFloat(79)}, 0, ""},
		{"accuracy 99%", XPInput{Active: 10 * time.Minute, TotalQuestions: xpFloat(100),
			CorrectQuestions: xpFloat(99)}, 10, ""},
		{"accuracy 100%", XPInput{Active: 10 * time.Minute, TotalQuestions: xpFloat(10),
			CorrectQuestions: xpFloat(10)}, 12.5, ""},
		{"attempt 2", XPInput{Active: 10 * time.Minute, Attempt: 2}, 5, ""},
		{"attempt 3", XPInput{Active: 10 * time.Minute, Attempt: 3}, 2.5, ""},
		{"attempt 4", XPInput{Active: 10 * time.Minute, Attempt: 4}, 0, ""},
		{"attempt 3 perfect", XPInput{Active: 10 * time.Minute, Attempt: 3, TotalQuestions: xpFloat(4),
			CorrectQuestions: xpFloat(4)}, 3.1, ""}, // 3.125 rounds to 3.1
		{"half up at 0.05", XPInput{Active: 87 * time.Second}, 1.5, ""}, // 1.45 min
		{"half up 10.25", XPInput{Active: 10*time.Minute + 15*time.Second}, 10.3, ""},
		{"below half", XPInput{Active: 2*time.Second + 999*time.Millisecond}, 0, ""},
		{"exactly half tenth", XPInput{Active: 3 * time.Second}, 0.1, ""},
		{"perfect rounds down", XPInput{Active: 10*time.Minute + 15*time.Second,
			TotalQuestions: xpFloat(5), CorrectQuestions: xpFloat(5)}, 12.8, ""}, // 12.8125
		{"30 hours", XPInput{Active: 30 * time.Hour}, 1800, ""},
		{"negative active", XPInput{Active: -time.Second}, 0, "outside 0"},
		{"correct above total", XPInput{Active: time.Minute, TotalQuestions: xpFloat(3),
			CorrectQuestions: xpFloat(4)}, 0, "correctQuestions: 4 exceeds totalQuestions 3"},
		{"total missing", XPInput{Active: time.Minute, CorrectQuestions: xpFloat(4)}, 0,
			"totalQuestions: missing"},
		{"correct missing", XPInput{Active: time.Minute, TotalQuestions: xpFloat(4)}, 0,
			"correctQuestions: missing"},
		{"NaN total", XPInput{Active: time.Minute, TotalQuestions: xpFloat(math.NaN()),
			CorrectQuestions: xpFloat(1)}, 0, "totalQuestions: NaN"},
		{"negative correct", XPInput{Active: time.Minute, TotalQuestions: xpFloat(3),
			CorrectQuestions: xpFloat(-1)}, 0, "correctQuestions: -1"},
		{"negative attempt", XPInput{Active: time.Minute, Attempt: -1}, 0, "attempt: -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ComputeXP(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ComputeXP(%+v) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				if code := ErrorCode(err); code != CodeInvalid {
					t.Errorf("ComputeXP(%+v) error code = %q, want %q", tt.in, code, CodeInvalid)
				}
				return
			}
			if err != nil {
				t.Fatalf("ComputeXP(%+v) error: %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ComputeXP(%+v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestCheckXPAboveFocus(t *testing.T) {
	err := CheckXP(12.5, 10*time.Minute+15*time.Second)
	if !errors.Is(err, ErrXPAboveFocus) {
		t.Fatalf("CheckXP(12.5, 10m15s) = %v, want ErrXPAboveFocus", err)
	}
	for _, want := range []string{"12.5", "10.25"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("CheckXP error %q does not name %s", err, want)
		}
	}
	if code := ErrorCode(err); code != CodeInvalid {
		t.Errorf("CheckXP error code = %q, want %q", code, CodeInvalid)
	}
}

func TestCheckXPWithinFocus(t *testing.T) {
	for _, xp := range []float64{0, 5, 10.25} {
		if err := CheckXP(xp, 10*time.Minute+15*time.Second); err != nil {
			t.Errorf("CheckXP(%v, 10m15s) = %v, want nil", xp, err)
		}
	}
}

func TestCheckXPInvalid(t *testing.T) {
	for _, xp := range []float64{-1, math.NaN(), math.Inf(1)} {
		err := CheckXP(xp, time.Hour)
		if err == nil || !strings.Contains(err.Error(), "xpEarned") {
			t.Errorf("CheckXP(%v, 1h) = %v, want an xpEarned error", xp, err)
		}
		if errors.Is(err, ErrXPAboveFocus) {
			t.Errorf("CheckXP(%v, 1h) wraps ErrXPAboveFocus, want a plain invalid value", xp)
		}
	}
}

func TestResolveXP(t *testing.T) {
	in := XPInput{Active: 10 * time.Minute, TotalQuestions: xpFloat(10), CorrectQuestions: xpFloat(9)}
	tests := []struct {
		name    string
		given   *float64
		allow   bool
		want    float64
		wantErr error
	}{
		{"computed", nil, false, 10, nil},
		{"given within", xpFloat(7.5), false, 7.5, nil},
		{"given above", xpFloat(11), false, 0, ErrXPAboveFocus},
		{"given above allowed", xpFloat(11), true, 11, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveXP(tt.given, in, tt.allow)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ResolveXP error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ResolveXP = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestResolveXPPerfectScore(t *testing.T) {
	in := XPInput{Active: 6 * time.Minute, TotalQuestions: xpFloat(5), CorrectQuestions: xpFloat(5)}
	computed, err := ComputeXP(in)
	if err != nil {
		t.Fatalf("ComputeXP: %v", err)
	}
	// The rule's own result for a perfect score, given back, is accepted.
	got, err := ResolveXP(&computed, in, false)
	if err != nil {
		t.Fatalf("ResolveXP(%v, 6 min at 5 of 5) = %v, want it accepted", computed, err)
	}
	if got != computed {
		t.Errorf("ResolveXP = %v, want %v", got, computed)
	}

	_, err = ResolveXP(xpFloat(7.6), in, false)
	if !errors.Is(err, ErrXPAboveFocus) {
		t.Fatalf("ResolveXP(7.6, 6 min at 5 of 5) = %v, want ErrXPAboveFocus", err)
	}
	for _, want := range []string{"7.6", "7.5"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ResolveXP error %q does not name %s", err, want)
		}
	}

	// Below a perfect score the limit stays at the focused minutes.
	in.CorrectQuestions = xpFloat(4)
	if _, err := ResolveXP(xpFloat(6.5), in, false); !errors.Is(err, ErrXPAboveFocus) {
		t.Errorf("ResolveXP(6.5, 6 min at 4 of 5) = %v, want ErrXPAboveFocus", err)
	}
}

func TestResolveXPChecksQuestions(t *testing.T) {
	in := XPInput{Active: time.Hour, TotalQuestions: xpFloat(2), CorrectQuestions: xpFloat(3)}
	if _, err := ResolveXP(xpFloat(1), in, true); err == nil {
		t.Errorf("ResolveXP with correct above total = nil error, want correctQuestions error")
	}
	if _, err := ResolveXP(xpFloat(-2), XPInput{Active: time.Hour}, true); err == nil {
		t.Errorf("ResolveXP(-2, allowed) = nil error, want xpEarned error")
	}
}

func ExampleComputeXP() {
	total, correct := 10.0, 9.0
	xp, err := ComputeXP(XPInput{Active: 12*time.Minute + 30*time.Second,
		TotalQuestions: &total, CorrectQuestions: &correct, Attempt: 2})
	fmt.Println(xp, err)

	// A given xpEarned above the focused minutes is rejected.
	given := 13.0
	_, err = ResolveXP(&given, XPInput{Active: 12*time.Minute + 30*time.Second}, false)
	fmt.Println(err)
	// Output:
	// 6.3 <nil>
	// xpEarned: 13 is above the run's 12.5 focused minutes: 1 XP = 1 focused minute
}
