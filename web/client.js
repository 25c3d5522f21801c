// Timeback browser client: tracks one activity run of the page and reports
// its time to the server routes of the Go web handler, which build and send
// the Caliper events with the app's credentials.
//
//   import { createActivity } from "/api/timeback/client.js";
//   const activity = createActivity({
//     activity: { id: "Math/g3/lesson-1", name: "Lesson 1", subject: "Math" },
//     course: { id: "MATH-3" },
//     metrics: () => quiz.done ? { totalQuestions: 10, correctQuestions: 8 } : null,
//     onError: (err) => console.warn(err),
//   });
//   await activity.start();
//   ...
//   await activity.end({ totalQuestions: 10, correctQuestions: 8 });
//
// Time counts as active while the page is visible and the app has not
// paused, and as inactive otherwise. A heartbeat reports each window (15 s
// by default). After the page stays hidden past hiddenTimeoutMs (10 min by
// default) heartbeats stop; when the page returns a fresh window starts. On
// pagehide the final flush goes out with navigator.sendBeacon. Every message
// carries a sequence number, so the server ignores one it already accepted.
//
// This is a plain ES module with no dependencies and no build step.

/** Defaults of the options of createActivity. */
export const DEFAULTS = Object.freeze({
  base: "/api/timeback",
  heartbeatMs: 15000,
  hiddenTimeoutMs: 600000,
});

/** TimebackError is a rejected request; status is 0 for a network failure. */
export class TimebackError extends Error {
  constructor(message, status, body) {
    super(message);
    this.name = "TimebackError";
    this.status = status;
    this.body = body;
  }

  /** retryable reports whether sending the same message again may succeed. */
  get retryable() {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/**
 * createActivity returns an Activity for options:
 *   activity   {id, name?, subject}   the activity of the run (required)
 *   course     {id, name?}            the course (required)
 *   runId      string                 resume this saved run instead of starting one
 *   base       string                 the handler's prefix, "/api/timeback"
 *   heartbeatMs, hiddenTimeoutMs      see DEFAULTS
 *   metrics    () => metrics | null   completion metrics for the final flush on pagehide
 *   onPause(reason), onResume(reason) reason is "paused" or "hidden"
 *   onFlush(info)                     after each accepted message
 *   onError(error)                    a message the server rejected or that could not be sent
 *   onStart(reply)                    after the server accepted the start
 */
export function createActivity(options) {
  return new Activity(options);
}

const noop = () => {};

/** Activity tracks one run. Its methods are start, pause, resume and end. */
export class Activity {
  constructor(options = {}) {
    if (!options.activity || !options.activity.id) {
      throw new TypeError("timeback: options.activity.id is required");
    }
    if (!options.course || !options.course.id) {
      throw new TypeError("timeback: options.course.id is required");
    }
    this.options = { ...DEFAULTS, ...options };
    this.base = this.options.base.replace(/\/+$/, "");
    this.runId = options.runId || "";
    this.state = "idle"; // idle, starting, running, stopped (hidden past the timeout), ended
    this.seq = 0;
    this.paused = false;
    this.hidden = false;
    this.activeMs = 0;
    this.inactiveMs = 0;
    this.mark = 0;
    this.pending = []; // messages to send again, in order
    this.chain = Promise.resolve();
    this.timer = 0;
    this.hiddenTimer = 0;
    this.endedByPagehide = false;
    this.onVisibility = () => this.visibilityChanged();
    this.onPagehide = (event) => this.pagehide(event);
    this.onPageshow = (event) => this.pageshow(event);
  }

  /** start begins or resumes the run and its heartbeats. */
  async start() {
    if (this.state !== "idle" && this.state !== "ended") {
      throw new Error(`timeback: start while the run is ${this.state}; call end first`);
    }
    this.state = "starting";
    const body = {
      activity: this.options.activity,
      course: this.options.course,
    };
    if (this.runId) body.runId = this.runId;
    let reply;
    try {
      reply = await this.post("/activity/start", body, false);
    } catch (err) {
      this.state = "idle";
      this.fail(err);
      throw err;
    }
    this.runId = reply.runId;
    this.seq = reply.seq;
    this.paused = false;
    this.hidden = document.visibilityState === "hidden";
    this.endedByPagehide = false;
    this.freshWindow();
    this.state = "running";
    document.addEventListener("visibilitychange", this.onVisibility);
    window.addEventListener("pagehide", this.onPagehide);
    window.addEventListener("pageshow", this.onPageshow);
    this.startHeartbeats();
    if (this.hidden) this.startHiddenTimer();
    (this.options.onStart || noop)(reply);
    return reply;
  }

  /** pause counts time as inactive until resume. */
  pause() {
    if (this.paused || !this.tracking()) return;
    this.account();
    this.paused = true;
    (this.options.onPause || noop)("paused");
  }

  /** resume counts time as active again while the page is visible. */
  resume() {
    if (!this.paused || !this.tracking()) return;
    this.account();
    this.paused = false;
    (this.options.onResume || noop)("paused");
  }

  /**
   * end sends the final flush and, with metrics, the completion. Without
   * metrics the run stays resumable with its runId. It resolves with the
   * server's reply, which carries xpEarned for a completion.
   */
  async end(metrics) {
    if (!this.tracking()) {
      throw new Error(`timeback: end while the run is ${this.state}`);
    }
    const message = this.finalMessage(metrics);
    this.stop();
    // Queued heartbeats carry lower sequence numbers, so they go first.
    // The final message carries the time of those that still fail.
    await this.sendPending();
    this.mergePending(message);
    let lastError;
    let restarted = false;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (attempt > 0) await sleep(500 * attempt);
      try {
        const reply = await this.post("/activity/end", message, true);
        this.flushed(message, reply, true);
        return reply;
      } catch (err) {
        lastError = err;
        if (err.status === 404 && !restarted && (await this.restartRun())) {
          restarted = true;
          attempt--;
          continue;
        }
        if (!err.retryable) break;
      }
    }
    this.fail(lastError);
    throw lastError;
  }

  tracking() {
    return this.state === "running" || this.state === "stopped";
  }

  // account moves the time since the last mark into the window.
  account() {
    const now = performance.now();
    const elapsed = Math.max(0, now - this.mark);
    this.mark = now;
    if (this.state !== "running") return; // stopped: hidden past the timeout, not counted
    if (this.paused || this.hidden) {
      this.inactiveMs += elapsed;
    } else {
      this.activeMs += elapsed;
    }
  }

  freshWindow() {
    this.activeMs = 0;
    this.inactiveMs = 0;
    this.mark = performance.now();
  }

  // takeWindow returns the window's whole milliseconds and carries the
  // fractions into the next window, so that rounding loses less than a
  // millisecond over the run.
  takeWindow() {
    this.account();
    const activeMs = Math.floor(this.activeMs);
    const inactiveMs = Math.floor(this.inactiveMs);
    this.activeMs -= activeMs;
    this.inactiveMs -= inactiveMs;
    return { activeMs, inactiveMs };
  }

  startHeartbeats() {
    clearInterval(this.timer);
    this.timer = setInterval(() => this.heartbeat(), this.options.heartbeatMs);
  }

  startHiddenTimer() {
    clearTimeout(this.hiddenTimer);
    this.hiddenTimer = setTimeout(() => this.hiddenTimeout(), this.options.hiddenTimeoutMs);
  }

  heartbeat() {
    if (this.state !== "running") return;
    const span = this.takeWindow();
    if (span.activeMs === 0 && span.inactiveMs === 0 && this.pending.length === 0) return;
    if (span.activeMs > 0 || span.inactiveMs > 0) {
      this.pending.push({ runId: this.runId, seq: ++this.seq, ...span });
    }
    this.sendPending();
  }

  // sendPending sends the queued heartbeats in order. A message that failed
  // for a retryable reason stays queued with its sequence number and goes
  // out again at the next heartbeat. The server ignores the copy if the
  // first one arrived after all.
  sendPending() {
    this.chain = this.chain.then(async () => {
      let restarted = false;
      while (this.pending.length > 0) {
        const message = this.pending[0];
        try {
          const reply = await this.post("/activity/heartbeat", message, false);
          this.pending.shift();
          restarted = false;
          this.flushed(message, reply, false);
        } catch (err) {
          if (err.status === 404 && !restarted && (await this.restartRun())) {
            restarted = true; // send the message once more to the restarted run
            continue;
          }
          if (err.retryable) {
            this.fail(err);
            return;
          }
          this.pending.shift();
          this.fail(err);
        }
      }
    });
    return this.chain;
  }

  // restartRun starts the run again under its id after the server replied
  // 404 for it, as a server that keeps runs in memory does after a restart.
  // The server counts the run afresh from then on. It reports whether the
  // server accepted the start; a run of another student stays rejected.
  async restartRun() {
    const body = { activity: this.options.activity, course: this.options.course, runId: this.runId };
    try {
      await this.post("/activity/start", body, false);
      return true;
    } catch (err) {
      this.fail(err);
      return false;
    }
  }

  visibilityChanged() {
    if (!this.tracking()) return;
    const hidden = document.visibilityState === "hidden";
    if (hidden === this.hidden) return;
    this.account();
    this.hidden = hidden;
    if (hidden) {
      this.startHiddenTimer();
      (this.options.onPause || noop)("hidden");
      return;
    }
    clearTimeout(this.hiddenTimer);
    if (this.state === "stopped") {
      this.state = "running";
      this.freshWindow();
      this.startHeartbeats();
    }
    (this.options.onResume || noop)("hidden");
  }

  // hiddenTimeout reports the window up to the timeout and stops the
  // heartbeats until the page is visible again.
  hiddenTimeout() {
    if (this.state !== "running" || !this.hidden) return;
    this.heartbeat();
    clearInterval(this.timer);
    this.state = "stopped";
  }

  finalMessage(metrics) {
    const span = this.state === "running" ? this.takeWindow() : { activeMs: 0, inactiveMs: 0 };
    const message = { runId: this.runId, seq: ++this.seq, ...span };
    if (metrics) message.metrics = metrics;
    return message;
  }

  stop() {
    clearInterval(this.timer);
    clearTimeout(this.hiddenTimer);
    document.removeEventListener("visibilitychange", this.onVisibility);
    window.removeEventListener("pagehide", this.onPagehide);
    this.state = "ended";
  }

  // pagehide sends the final flush with sendBeacon, which the browser
  // delivers after the page is gone. The flush carries the time of the
  // queued heartbeats too, because browsers do not promise that beacons
  // arrive in order, and a heartbeat arriving after the end would be
  // rejected.
  pagehide() {
    if (!this.tracking()) return;
    const metrics = this.options.metrics ? this.options.metrics() : null;
    const message = this.finalMessage(metrics);
    this.mergePending(message);
    this.stop();
    this.endedByPagehide = true;
    this.beacon("/activity/end", message);
  }

  // mergePending adds the time of the queued heartbeats to message, which
  // carries a higher sequence number, and empties the queue. A queued copy
  // that the server had in fact accepted counts again by at most the
  // server's leeway, because the server caps each message at the wall time
  // since the previous one plus that leeway.
  mergePending(message) {
    for (const queued of this.pending.splice(0)) {
      message.activeMs += queued.activeMs;
      message.inactiveMs += queued.inactiveMs;
    }
  }

  // pageshow restarts tracking when the page returns from the back-forward
  // cache after a pagehide ended its session.
  pageshow(event) {
    if (!event.persisted || !this.endedByPagehide) return;
    window.removeEventListener("pageshow", this.onPageshow);
    this.start().catch(noop);
  }

  beacon(path, message) {
    const body = new Blob([JSON.stringify(message)], { type: "application/json" });
    if (navigator.sendBeacon && navigator.sendBeacon(this.base + path, body)) return;
    // The beacon queue is full or the API is missing: a keepalive fetch
    // also outlives the page.
    fetch(this.base + path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(message),
      keepalive: true,
      credentials: "same-origin",
    }).catch(noop);
  }

  flushed(message, reply, final) {
    (this.options.onFlush || noop)({
      seq: message.seq,
      activeMs: message.activeMs,
      inactiveMs: message.inactiveMs,
      elapsedMs: message.activeMs + message.inactiveMs,
      final,
      reply,
    });
  }

  fail(err) {
    (this.options.onError || noop)(err);
  }

  async post(path, body, keepalive) {
    let response;
    try {
      response = await fetch(this.base + path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        credentials: "same-origin",
        keepalive,
      });
    } catch (err) {
      throw new TimebackError(`timeback: POST ${path} failed: ${err.message}`, 0, null);
    }
    let reply = null;
    try {
      reply = await response.json();
    } catch {
      // A reply that is not JSON is reported by its status below.
    }
    if (!response.ok) {
      const detail = reply && reply.message ? reply.message : response.statusText;
      throw new TimebackError(`timeback: POST ${path} returned ${response.status}: ${detail}`,
        response.status, reply);
    }
    return reply;
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
