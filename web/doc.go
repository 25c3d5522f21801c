// Package web is the server side of browser activity tracking: an
// http.Handler that a Go web app mounts (by default under /api/timeback)
// and the browser client it serves at /client.js.
//
// The browser reports windows of active and inactive milliseconds, and the
// handler trusts none of it. Each run belongs to the student the
// timeback.Resolver returns for the request. A repeated sequence number is
// ignored. Claimed time is capped at the wall time since the previous
// message plus Config.Leeway. The completion's xpEarned follows the XP rule
// of timeback.ResolveXP on the time the server counted. The handler
// builds the TimeSpentEvents and the ActivityCompletedEvent and hands them
// to a Sink, such as a *sender.Client with its durable outbox.
//
// Routes, relative to the prefix:
//
//	POST /activity/start      {activity: {id, name?, subject}, course: {id, name?}, runId?}
//	POST /activity/heartbeat  {runId, seq, activeMs, inactiveMs}
//	POST /activity/end        {runId, seq, activeMs, inactiveMs, metrics?}, also as a sendBeacon body
//	GET  /user/me             the resolved student
//	GET  /client.js           the browser client, an ES module
//
// Errors are JSON, {"status": "error", "message", "errors"}, with the status
// of the error's timeback.Code.
//
// Mounting it:
//
//	client, _ := sender.New(sender.Config{Environment: "http://127.0.0.1:8080"})
//	h, err := web.New(web.Config{
//		Resolver: oneroster.Static{Users: []timeback.User{student}},
//		Sink:     client,
//		AppName:  "My App",
//	})
//	mux.Handle(h.Prefix()+"/", h)
//
// and in the page:
//
//	import { createActivity } from "/api/timeback/client.js";
//	const activity = createActivity({activity: {id: "lesson-1", subject: "Math"}, course: {id: "MATH-3"}});
//	await activity.start();
package web
