package facts

import (
	"fmt"
	"time"
	_ "time/tzdata" // IANA zones even on hosts without /usr/share/zoneinfo

	"github.com/timeback/timeback-go"
)

// MaxRangeDays is the longest range of days one query may span, a little
// over a year, so that a daily or weekly report stays a page long and a
// mistyped year cannot make the store scan a decade of facts.
const MaxRangeDays = 371

// Date is a calendar day, without a time zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate reads a date in the form 2006-01-02.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a date of the form YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

// DateOf returns the calendar day of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// String formats the date as 2006-01-02.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// MarshalText encodes the date as 2006-01-02.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText decodes a date of the form 2006-01-02.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func (d Date) civil() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// AddDays returns the date n days later; n may be negative.
func (d Date) AddDays(n int) Date { return DateOf(d.civil().AddDate(0, 0, n)) }

// Before reports whether d is an earlier day than e.
func (d Date) Before(e Date) bool { return d.civil().Before(e.civil()) }

// DaysUntil returns the number of days from d to e, negative when e is
// earlier.
func (d Date) DaysUntil(e Date) int { return int(e.civil().Sub(d.civil()) / (24 * time.Hour)) }

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday { return d.civil().Weekday() }

// ISOWeek returns the ISO 8601 year and week number of d.
func (d Date) ISOWeek() (year, week int) { return d.civil().ISOWeek() }

// Start returns the first instant of the day in loc. Where a daylight-saving
// change skips midnight, the day starts at the change instead.
func (d Date) Start(loc *time.Location) time.Time {
	t := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
	if DateOf(t.In(loc)) == d {
		// time.Date may pick the later of two offsets for a skipped
		// midnight; the day then began at the start of that offset.
		if zs, _ := t.ZoneBounds(); !zs.IsZero() && zs.Before(t) && DateOf(zs.In(loc)) == d &&
			DateOf(zs.Add(-time.Nanosecond).In(loc)) != d {
			return zs
		}
		return t
	}
	// The result fell on the day before: midnight does not exist in loc on
	// this day, so the day starts at the transition that skipped it.
	_, ze := t.ZoneBounds()
	return ze
}

// Range is an inclusive range of calendar days in a time zone.
type Range struct {
	From, To Date
	Loc      *time.Location
}

// ParseRange reads a range from its query form: from and to as
// YYYY-MM-DD, both inclusive, and tz as an IANA zone name, UTC when empty.
// Errors are *timeback.Error values with code CodeInvalid that name the
// parameter and its value.
func ParseRange(from, to, tz string) (Range, error) {
	var r Range
	var fields []timeback.FieldError
	var err error
	if r.From, err = ParseDate(from); err != nil {
		fields = append(fields, timeback.FieldError{Path: "from", Message: err.Error()})
	}
	if r.To, err = ParseDate(to); err != nil {
		fields = append(fields, timeback.FieldError{Path: "to", Message: err.Error()})
	}
	if r.Loc, err = LoadZone(tz); err != nil {
		fields = append(fields, timeback.FieldError{Path: "tz", Message: err.Error()})
	}
	if len(fields) > 0 {
		return Range{}, invalid(fields)
	}
	if err := r.Check(); err != nil {
		return Range{}, err
	}
	return r, nil
}

// Check returns an error when the range ends before it starts or spans more
// than MaxRangeDays.
func (r Range) Check() error {
	if r.To.Before(r.From) {
		return invalid([]timeback.FieldError{{Path: "from",
			Message: fmt.Sprintf("from %s is after to %s", r.From, r.To)}})
	}
	if n := r.Days(); n > MaxRangeDays {
		return invalid([]timeback.FieldError{{Path: "to",
			Message: fmt.Sprintf("range %s to %s spans %d days, more than the maximum of %d",
				r.From, r.To, n, MaxRangeDays)}})
	}
	return nil
}

func invalid(fields []timeback.FieldError) error {
	msg := "invalid range: " + fields[0].Path + ": " + fields[0].Message
	return &timeback.Error{Code: timeback.CodeInvalid, Message: msg, Fields: fields}
}

// LoadZone returns the IANA time zone of that name, UTC for the empty name.
// Unlike time.LoadLocation it rejects "Local", whose meaning depends on the
// host.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if name == "Local" {
		return nil, fmt.Errorf("time zone %q is not an IANA zone name such as America/Chicago", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: use an IANA zone name such as America/Chicago", name)
	}
	return loc, nil
}

// Days returns the number of days in the range.
func (r Range) Days() int { return r.From.DaysUntil(r.To) + 1 }

// Start returns the first instant of the range.
func (r Range) Start() time.Time { return r.From.Start(r.Loc) }

// End returns the first instant after the range.
func (r Range) End() time.Time { return r.To.AddDays(1).Start(r.Loc) }

// Weeks returns the range widened to whole ISO weeks, Monday to Sunday.
func (r Range) Weeks() Range {
	from := r.From.AddDays(-((int(r.From.Weekday()) + 6) % 7))
	to := r.To.AddDays((7 - int(r.To.Weekday())) % 7)
	return Range{From: from, To: to, Loc: r.Loc}
}
