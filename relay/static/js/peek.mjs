// Last-line previews for agents whose terminal is not open, at a small, bounded cost.
//
// A preview needs only the last couple of KB of an agent's stream, but an agent's
// `offset` in AgentInfo is only as fresh as its last status event, so "since = offset
// - 2 KB" could replay megabytes. A peek therefore asks the relay for the current end
// first, over the same WebSocket:
//
//   1. subscribe since = 2^53-1 (beyond the end): the relay answers `subscribed` with
//      `offset` = the stream's current end, and sends nothing.
//   2. subscribe since = end - PEEK_BYTES: at most PEEK_BYTES (+ whatever the agent
//      prints in that round trip) arrive.
//   3. unsubscribe once the bytes up to `end` are in.
//
// Peeks run a few at a time, only for agents without an open terminal (those get
// their preview from the terminal's own stream), when an agent is first seen or
// changes state, and every REFRESH_MS for running agents the user can see.

import { TailBuffer } from "./output.mjs";

export const PEEK_BYTES = 2048;
const BEYOND_END = Number.MAX_SAFE_INTEGER;
const CONCURRENCY = 2;
const MIN_INTERVAL_MS = 5_000;
const TIMEOUT_MS = 10_000;

class Peek {
  /**
   * @param {string} agentId
   * @param {import("./connection.mjs").Subscriptions} subs
   * @param {(bytes: Uint8Array | null) => void} done
   */
  constructor(agentId, subs, done) {
    this.agentId = agentId;
    this.subs = subs;
    this.done = done;
    this.stage = 0;
    this.end = 0;
    this.tail = new TailBuffer(PEEK_BYTES);
    this.finished = false;
    this.timer = window.setTimeout(() => this._finish(false), TIMEOUT_MS);
  }

  start() {
    this.stage = 1;
    this.subs.subscribe(this.agentId, BEYOND_END, this);
  }

  onSubscribed(msg) {
    if (this.stage === 1) {
      this.end = msg.offset;
      if (this.end === 0) return this._finish(true);
      this.stage = 2;
      this.subs.subscribe(this.agentId, Math.max(0, this.end - PEEK_BYTES), this);
      return;
    }
    if (msg.from >= this.end) this._finish(true);
  }

  onOutput(offset, data) {
    if (this.stage !== 2) return;
    this.tail.push(data);
    if (offset + data.length >= this.end) this._finish(true);
  }

  onGap() {}

  onSubscribeFailed() {
    this._finish(false, false);
  }

  /** A terminal took over this agent's subscription. */
  onDetached() {
    this._finish(false, false);
  }

  /** The connection was replaced; the subscription died with it. */
  onReconnect() {
    this.subs.byAgent.get(this.agentId).owner = null;
    this._finish(false, false);
  }

  _finish(ok, unsubscribe = true) {
    if (this.finished) return;
    this.finished = true;
    window.clearTimeout(this.timer);
    if (unsubscribe) this.subs.unsubscribe(this.agentId, this);
    this.done(ok ? this.tail.bytes : null);
  }
}

export class PeekScheduler {
  /**
   * @param {import("./connection.mjs").Subscriptions} subs
   * @param {(agentId: string, bytes: Uint8Array) => void} onPreview
   * @param {(agentId: string) => boolean} busy  true when a terminal owns the agent
   */
  constructor(subs, onPreview, busy) {
    this.subs = subs;
    this.onPreview = onPreview;
    this.busy = busy;
    /** @type {string[]} */
    this.queue = [];
    /** @type {Map<string, Peek>} */
    this.running = new Map();
    /** @type {Map<string, number>} */
    this.lastPeek = new Map();
    this.enabled = false;
  }

  /** Start peeking (after `dashboard:connected`); queued requests go out now. */
  enable() {
    this.enabled = true;
    this._next();
  }

  /** The connection dropped: running peeks are void, queued ones wait. */
  disable() {
    this.enabled = false;
  }

  /** @param {string} agentId @param {{force?: boolean}} [opts] */
  request(agentId, { force = false } = {}) {
    if (this.busy(agentId) || this.running.has(agentId) || this.queue.includes(agentId)) return;
    const last = this.lastPeek.get(agentId) ?? 0;
    if (!force && Date.now() - last < MIN_INTERVAL_MS) return;
    this.queue.push(agentId);
    this._next();
  }

  forget(agentId) {
    this.queue = this.queue.filter((id) => id !== agentId);
    this.lastPeek.delete(agentId);
  }

  _next() {
    while (this.enabled && this.running.size < CONCURRENCY && this.queue.length > 0) {
      const agentId = /** @type {string} */ (this.queue.shift());
      if (this.busy(agentId)) continue;
      this.lastPeek.set(agentId, Date.now());
      const peek = new Peek(agentId, this.subs, (bytes) => {
        this.running.delete(agentId);
        if (bytes) this.onPreview(agentId, bytes);
        this._next();
      });
      this.running.set(agentId, peek);
      peek.start();
    }
  }
}
