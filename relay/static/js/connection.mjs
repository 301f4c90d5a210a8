// The dashboard's WebSocket to the relay (/ws/dashboard), as a small state machine:
//
//   connecting --dashboard:connected--> connected
//   connecting|connected --close 4401/4403/4400--> refused     (final: ask for a token)
//   connected --close 4401--> refused, expired: true           (the token ran out mid-session)
//   connecting|connected --any other close--> reconnecting(at) --timer--> connecting
//
// Reconnects use exponential backoff with jitter; 4503 (slow consumer) resumes at once.
// Subscriptions are tracked by `Subscriptions`, which also knows which replies belong
// to which subscribe so that restarts never mix two subscriptions' output.

import { jsonOutputBytes, parseBinaryFrame } from "./output.mjs";

export const PROTOCOL = 1;
const HEARTBEAT_MS = 15_000;
const DEAD_AFTER_MS = 45_000;
const STABLE_MS = 5_000;

/** Close codes after which retrying with the same token is pointless. */
export const REFUSED_CLOSES = new Map([
  [4400, "the relay does not speak this dashboard's protocol version"],
  [4401, "the relay refused the token: it is missing, malformed, expired or for another relay"],
  [4403, "this token may not open the dashboard (wrong role)"],
]);

/** Why a 4401 that ends an established session is final: the relay closes a dashboard
 * when its token's `exp` passes, and the same token would only be refused again. */
export const SESSION_EXPIRED =
  "session expired: open a fresh dashboard link or mint a new token (agent-sidecar token)";

/**
 * Delay before reconnect attempt `attempt` (0-based): exponential, capped, with
 * "equal jitter" (half fixed, half random) so a fleet of tabs does not reconnect
 * in lockstep after a relay restart.
 * @param {number} attempt
 * @param {number} [random] a number in [0, 1)
 * @param {{baseMs?: number, capMs?: number}} [opts]
 */
export function backoffDelay(attempt, random = Math.random(), { baseMs = 500, capMs = 30_000 } = {}) {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}

/**
 * @typedef {{kind: "connecting"} | {kind: "connected", role: string, sub: string}
 *   | {kind: "reconnecting", at: number, code: number, reason: string}
 *   | {kind: "refused", code: number, reason: string, expired: boolean}
 *   | {kind: "stopped"}} ConnState
 */

export class Connection {
  /**
   * @param {{url: string, token: string,
   *   onState: (state: ConnState) => void,
   *   onMessage: (msg: any) => void,
   *   onOutput: (agentId: string, offset: number, data: Uint8Array) => void}} opts
   */
  constructor({ url, token, onState, onMessage, onOutput }) {
    this.url = url;
    this.token = token;
    this.onState = onState;
    this.onMessage = onMessage;
    this.onOutput = onOutput;
    /** @type {WebSocket | null} */
    this.ws = null;
    this.attempt = 0;
    this.connectedAt = 0;
    /** Close code of the previous connection (4503: we fell behind). */
    this.lastCloseCode = 0;
    this.lastMessageAt = 0;
    this.retryTimer = 0;
    this.heartbeatTimer = 0;
    /** @type {ConnState} */
    this.state = { kind: "stopped" };
  }

  start() {
    this._open();
    this.heartbeatTimer = window.setInterval(() => this._heartbeat(), HEARTBEAT_MS);
  }

  stop() {
    window.clearTimeout(this.retryTimer);
    window.clearInterval(this.heartbeatTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, "dashboard closed");
    this._setState({ kind: "stopped" });
  }

  /** Reconnect now instead of waiting for the backoff timer. */
  retryNow() {
    if (this.state.kind !== "reconnecting") return;
    window.clearTimeout(this.retryTimer);
    this._open();
  }

  get connected() {
    return this.state.kind === "connected";
  }

  /** Send a JSON message; returns false when not connected (nothing is queued). */
  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || !this.connected) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  _setState(state) {
    this.state = state;
    this.onState(state);
  }

  _open() {
    this._setState({ kind: "connecting" });
    const ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (this.ws !== ws) return;
      this.lastMessageAt = Date.now();
      ws.send(JSON.stringify({
        type: "dashboard:connect", protocol: PROTOCOL, token: this.token,
        client: "agent-sidecar-dashboard/1", binary: true, presence: true,
      }));
    });
    ws.addEventListener("message", (event) => {
      if (this.ws === ws) this._receive(event.data);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws === ws) this._closed(event.code, event.reason);
    });
  }

  _receive(data) {
    this.lastMessageAt = Date.now();
    if (data instanceof ArrayBuffer) {
      const frame = parseBinaryFrame(data);
      if (frame) this.onOutput(frame.agentId, frame.offset, frame.data);
      return;
    }
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (typeof msg !== "object" || msg === null || typeof msg.type !== "string") return;
    if (msg.type === "terminal:output") {
      this.onOutput(msg.agent_id, msg.offset, jsonOutputBytes(msg));
      return;
    }
    if (msg.type === "dashboard:connected") {
      this.connectedAt = Date.now();
      this._setState({ kind: "connected", role: msg.role, sub: msg.sub });
    }
    this.onMessage(msg);
  }

  _closed(code, reason) {
    this.ws = null;
    this.lastCloseCode = code;
    const refused = REFUSED_CLOSES.get(code);
    if (refused) {
      // 4401 after dashboard:connected: the token expired during the session.
      const expired = code === 4401 && this.connectedAt > 0;
      this.connectedAt = 0;
      this._setState({ kind: "refused", code, reason: expired ? SESSION_EXPIRED : refused, expired });
      return;
    }
    if (this.connectedAt && Date.now() - this.connectedAt > STABLE_MS) this.attempt = 0;
    this.connectedAt = 0;
    let delay = backoffDelay(this.attempt++);
    if (code === 4503) delay = Math.min(delay, 250); // slow consumer: resume at once
    if (code === 4429) delay = Math.max(delay, 5_000); // too many connections
    const why = closeReason(code, reason);
    this._setState({ kind: "reconnecting", at: Date.now() + delay, code, reason: why });
    this.retryTimer = window.setTimeout(() => this._open(), delay);
  }

  _heartbeat() {
    if (!this.ws || !this.connected) return;
    if (Date.now() - this.lastMessageAt > DEAD_AFTER_MS) {
      // Silent relay: treat as dead (a half-open TCP connection never closes by itself).
      const ws = this.ws;
      this._closed(1006, "relay silent");
      ws.close();
      return;
    }
    this.send({ type: "heartbeat", ts: Date.now() });
  }
}

function closeReason(code, reason) {
  switch (code) {
    case 1000: return "closed";
    case 1001: return "relay restarting";
    case 1006: return "connection lost";
    case 1009: return "message too big";
    case 4408: return "handshake timed out";
    case 4429: return "too many connections for this identity";
    case 4503: return "fell behind, resuming";
    default: return reason || `closed (${code})`;
  }
}

/**
 * Who receives an agent's output on this connection. One subscription per agent per
 * connection (the relay's rule); a new subscribe replaces the old one, and output that
 * arrives before the reply to the latest subscribe belongs to an older subscription and
 * is dropped here.
 *
 * @typedef {{onSubscribed(msg: any): void, onOutput(offset: number, data: Uint8Array): void,
 *   onGap(msg: any): void, onSubscribeFailed(code: string): void, onDetached(): void,
 *   onReconnect(mode: "resume"|"catch-up"): void}} Owner
 */
export class Subscriptions {
  /** @param {(msg: any) => boolean} send */
  constructor(send) {
    this.send = send;
    /** @type {Map<string, {owner: Owner | null, pending: number}>} */
    this.byAgent = new Map();
  }

  _entry(agentId) {
    let entry = this.byAgent.get(agentId);
    if (!entry) {
      entry = { owner: null, pending: 0 };
      this.byAgent.set(agentId, entry);
    }
    return entry;
  }

  /** @param {string} agentId @returns {Owner | null} */
  ownerOf(agentId) {
    return this.byAgent.get(agentId)?.owner ?? null;
  }

  /**
   * @param {string} agentId
   * @param {number | null} since
   * @param {Owner} owner
   */
  subscribe(agentId, since, owner) {
    const entry = this._entry(agentId);
    if (entry.owner && entry.owner !== owner) entry.owner.onDetached();
    entry.owner = owner;
    const msg = { type: "subscribe", agent_id: agentId };
    if (since !== null) msg.since = since;
    if (this.send(msg)) entry.pending++;
  }

  /** @param {string} agentId @param {Owner} owner */
  unsubscribe(agentId, owner) {
    const entry = this.byAgent.get(agentId);
    if (!entry || entry.owner !== owner) return;
    entry.owner = null;
    if (this.send({ type: "unsubscribe", agent_id: agentId })) entry.pending++;
  }

  /** The connection was replaced: no replies are outstanding any more, and every
   * owner subscribes again (terminals resume, peeks give up). */
  /** @param {"resume"|"catch-up"} mode */
  resumeAll(mode) {
    for (const entry of this.byAgent.values()) entry.pending = 0;
    for (const entry of [...this.byAgent.values()]) entry.owner?.onReconnect(mode);
  }

  onReply(msg) {
    const entry = this.byAgent.get(msg.agent_id);
    if (!entry) return;
    if (entry.pending > 0) entry.pending--;
    if (entry.pending === 0 && entry.owner && msg.type === "subscribed") entry.owner.onSubscribed(msg);
  }

  onOutput(agentId, offset, data) {
    const entry = this.byAgent.get(agentId);
    if (entry && entry.pending === 0 && entry.owner) entry.owner.onOutput(offset, data);
  }

  onGap(msg) {
    const entry = this.byAgent.get(msg.agent_id);
    if (entry && entry.pending === 0 && entry.owner) entry.owner.onGap(msg);
  }

  /**
   * An `error` without a request id may answer a subscribe (unknown_agent, forbidden).
   * The relay answers in order, so it belongs to a pending subscribe: the one whose
   * agent id the message names, else the only one pending. Returns true if handled.
   */
  onError(msg) {
    if (msg.ref || !["unknown_agent", "forbidden", "invalid_message"].includes(msg.code)) return false;
    const pending = [...this.byAgent.entries()].filter(([, e]) => e.pending > 0);
    const text = String(msg.message ?? "");
    const named = pending.filter(([id]) => text.includes(id));
    const match = named.length === 1 ? named[0] : pending.length === 1 ? pending[0] : null;
    if (!match) return false;
    const [, entry] = match;
    entry.pending--;
    if (entry.pending === 0 && entry.owner) entry.owner.onSubscribeFailed(msg.code);
    return true;
  }
}
