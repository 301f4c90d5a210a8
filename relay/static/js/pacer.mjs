// Keystrokes to one agent, paced under the relay's input rate limit.
//
// The relay spends a token per `terminal:input` (contract section 4: 50 per second,
// bursts of 200 by default) and drops what comes over the limit. A pane sends each
// xterm.js `onData` as one message, so a key held down, a fast typist on a slow link or
// a test robot could lose keys. The pacer sends a key at once while its own, smaller
// bucket has a token (the usual case: no added delay), and otherwise keeps what is typed
// and sends it as one message as soon as a token is back. Nothing is dropped, order is
// kept, and the relay's limit is never reached from a pane at the default settings.

/** Messages per second and burst the pacer allows itself at most (the relay's defaults:
 * 50, 200). */
export const RATE = 40;
export const BURST = 40;

/**
 * The pace for a relay's limit (`dashboard:connected.input_limit`, an addition of this
 * relay; absent from others): 80% of its rate and half its burst, at most RATE / BURST.
 * @param {{rate?: unknown, burst?: unknown} | null | undefined} limit
 * @returns {{rate: number, burst: number}}
 */
export function pacing(limit) {
  const rate = typeof limit?.rate === "number" && limit.rate > 0 ? limit.rate : null;
  const burst = typeof limit?.burst === "number" && limit.burst >= 1 ? limit.burst : null;
  return {
    rate: rate === null ? RATE : Math.min(RATE, rate * 0.8),
    burst: burst === null ? BURST : Math.max(1, Math.min(BURST, Math.floor(burst / 2))),
  };
}

export class InputPacer {
  /**
   * @param {(data: string) => boolean} send  deliver one `terminal:input`
   * @param {{rate?: number, burst?: number, now?: () => number}} [opts]
   */
  constructor(send, { rate = RATE, burst = BURST, now = () => performance.now() } = {}) {
    this.sendNow = send;
    this.rate = rate;
    this.burst = burst;
    this.now = now;
    this.tokens = burst;
    this.at = now();
    /** Typed and not yet sent. */
    this.pending = "";
    this.timer = 0;
  }

  /** Send ``data`` now if the pacer may, else with what is pending as soon as it may.
   * True: sent or kept for sending (false only when the connection refused it). */
  push(data) {
    if (!data) return true;
    if (!this.pending && this._take()) return this.sendNow(data);
    this.pending += data;
    this._schedule();
    return true;
  }

  /** Pace by a relay's limit from now on (see {@link pacing}). */
  setLimit(limit) {
    const { rate, burst } = pacing(limit);
    this._refill();
    this.rate = rate;
    this.burst = burst;
    this.tokens = Math.min(this.tokens, burst);
    if (this.timer) {
      window.clearTimeout(this.timer);
      this.timer = 0;
      this._schedule();
    }
  }

  /** Drop what is pending (the pane closed). */
  close() {
    window.clearTimeout(this.timer);
    this.timer = 0;
    this.pending = "";
  }

  _refill() {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
    this.at = now;
  }

  _take() {
    this._refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  _schedule() {
    if (this.timer) return;
    const wait = Math.max(0, ((1 - this.tokens) / this.rate) * 1000);
    this.timer = window.setTimeout(() => this._flush(), Math.ceil(wait));
  }

  _flush() {
    this.timer = 0;
    if (!this.pending) return;
    if (!this._take()) {
      this._schedule();
      return;
    }
    const data = this.pending;
    this.pending = "";
    this.sendNow(data);
  }
}
