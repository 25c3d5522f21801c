// Package facts derives learning facts from TimebackProfile events: per run
// and per student per day, XP, seconds by time category, questions, correct
// answers, accuracy, mastered units and completions.
//
// Facts are kept at the granularity of time windows in UTC, so that days and
// weeks can be computed per query in any IANA time zone. On ingest, a store
// calls Keep inside the transaction that stores the events, with a Ledger
// over that transaction; Keep removes the time that windows counted earlier
// for the same run already cover, so a heartbeat sent twice under new ids is
// counted once. At query time, a Source returns the stored windows and
// completions, and Daily, Weekly and Runs sum them:
//
//	r, err := facts.ParseRange("2026-01-26", "2026-02-01", "America/Chicago")
//	if err != nil {
//		return err
//	}
//	windows, completions, err := src.Facts(ctx, facts.Query{
//		StudentID: student, Start: r.Start(), End: r.End(),
//	})
//	if err != nil {
//		return err
//	}
//	days := facts.Daily(r, windows, completions)
package facts
