package tracker_test

import (
	"context"
	"fmt"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/tracker"
)

// printSink prints each event instead of sending it.
type printSink struct{}

func (printSink) Send(_ context.Context, events ...timeback.Event) error {
	for _, e := range events {
		switch e := e.(type) {
		case *timeback.TimeSpent:
			fmt.Printf("time spent %s-%s: active %v s, inactive %v s\n",
				e.Items[0].Start.Format("15:04:05"), e.Items[0].End.Format("15:04:05"),
				e.Items[0].Seconds, e.Items[1].Seconds)
		case *timeback.ActivityCompleted:
			fmt.Printf("completed: xpEarned %v\n", e.Metrics.XPEarned)
		}
	}
	return nil
}

func Example() {
	clock := tracker.NewFakeClock(time.Date(2026, 1, 27, 10, 0, 0, 0, time.UTC))
	t, err := tracker.New(tracker.Config{Sink: printSink{}, Clock: clock})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	run, err := t.Start(ctx, tracker.Activity{
		Actor: timeback.User{
			ID:    "https://api.example.com/ims/oneroster/rostering/v1p2/users/student-123",
			Email: "student-123@example.com",
		},
		Object: timeback.ActivityContext{
			ID:      "https://myapp.example.com/activities/Math/g3/lesson-1",
			Subject: timeback.SubjectMath,
			AppName: "My App",
		},
		CourseID: "MATH-3",
	})
	if err != nil {
		panic(err)
	}

	clock.Advance(10 * time.Second)
	run.Pause()
	clock.Advance(10 * time.Second)
	run.Resume()
	clock.Advance(100 * time.Second)

	// 110 s focused at 100% accuracy: 110/60 × 1.25 = 2.29, so 2.3 XP.
	total, correct := 4.0, 4.0
	err = run.Complete(ctx, tracker.Metrics{TotalQuestions: &total, CorrectQuestions: &correct})
	fmt.Println("error:", err)
	// Output:
	// time spent 10:00:00-10:00:15: active 10 s, inactive 5 s
	// time spent 10:00:15-10:00:30: active 10 s, inactive 5 s
	// time spent 10:00:30-10:00:45: active 15 s, inactive 0 s
	// time spent 10:00:45-10:01:00: active 15 s, inactive 0 s
	// time spent 10:01:00-10:01:15: active 15 s, inactive 0 s
	// time spent 10:01:15-10:01:30: active 15 s, inactive 0 s
	// time spent 10:01:30-10:01:45: active 15 s, inactive 0 s
	// time spent 10:01:45-10:02:00: active 15 s, inactive 0 s
	// completed: xpEarned 2.3
	// error: <nil>
}
