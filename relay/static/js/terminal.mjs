// One agent's live terminal: xterm.js fed from the relay's output stream.
//
// Stream bookkeeping, all in byte offsets of the agent's stream:
//   nextOffset    the next byte we need from the relay (end of the last accepted chunk);
//                 a resume after reconnect subscribes with since = nextOffset.
//   parsedOffset  the end of the bytes xterm has finished parsing (write callbacks).
//   replayEnd     the stream end when the terminal opened; bytes before it are replay.
//
// Flow control: at most HIGH_WATER bytes are handed to xterm without their write
// callback; the rest waits in a queue. If the live backlog (not counting the initial
// replay) passes SKIP_AFTER, the queue is dropped and the pane resubscribes RESUME_TAIL
// bytes before the newest offset it has seen, writing a visible "skipped" marker. So a
// flood (`yes`) costs bounded memory and the tab stays responsive.
//
// Input: only operators' panes forward keystrokes, and only while the user is typing in
// that pane (it has focus and saw a key or paste since it got focus). xterm's own
// replies to terminal queries are therefore never sent by viewers or by background
// panes, and never while old output is being replayed.

import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import { el, formatBytes, setText } from "./dom.mjs";
import { QUERY_REPLY, TailBuffer } from "./output.mjs";

export const HIGH_WATER = 256 * 1024;
export const SKIP_AFTER = 4 * 1024 * 1024;
export const RESUME_TAIL = 64 * 1024;
const FONT_SIZE = 13;
const MIN_FONT_SIZE = 8;

const THEME = {
  background: "#0d1015",
  foreground: "#d5d9e0",
  cursor: "#8ab4f8",
  cursorAccent: "#0d1015",
  selectionBackground: "#2c3e5a",
  black: "#1b1f27", red: "#f07178", green: "#9ece6a", yellow: "#e0af68",
  blue: "#7aa2f7", magenta: "#bb9af7", cyan: "#7dcfff", white: "#c0c5ce",
  brightBlack: "#565f73", brightRed: "#ff8a8f", brightGreen: "#b5e48c", brightYellow: "#f5c97b",
  brightBlue: "#9bb8ff", brightMagenta: "#cdb4ff", brightCyan: "#a4e4ff", brightWhite: "#eef1f5",
};

/**
 * @typedef {{agent_id: string, name: string, host: string, state: string,
 *   exit_code: number|null, cols: number, rows: number}} AgentInfo
 * @typedef {{ok: boolean, error?: string}} AckResult
 */

export class TerminalPane {
  /**
   * @param {{agent: AgentInfo,
   *   subs: import("./connection.mjs").Subscriptions,
   *   send: (msg: object) => boolean,
   *   request: (msg: object) => Promise<AckResult>,
   *   canType: boolean,
   *   onClose: (pane: TerminalPane) => void,
   *   onToggleMaximize: (pane: TerminalPane) => void}} opts
   */
  constructor({ agent, subs, send, request, canType, onClose, onToggleMaximize }) {
    this.agentId = agent.agent_id;
    this.agent = agent;
    this.subs = subs;
    this.send = send;
    this.request = request;
    this.canType = canType;
    this.typing = false;
    this.tail = new TailBuffer(4096);

    this.nextOffset = 0;
    this.requestedSince = 0;
    this.parsedOffset = 0;
    this.replayEnd = 0;
    this.firstSubscribe = true;
    /** @type {"open"|"resume"|"catch-up"|"skip"} */
    this.subscribeReason = "open";
    this.waitingForAgent = false;
    /** @type {{data: Uint8Array|string, size: number, end: number|null}[]} */
    this.queue = [];
    this.queuedBytes = 0;
    this.inFlight = 0;
    this.skippedTotal = 0;
    this.resizeTimer = 0;

    this._buildDom(onClose, onToggleMaximize);
    this.term = new Terminal({
      cols: agent.cols || 80,
      rows: agent.rows || 24,
      scrollback: 10_000,
      fontFamily: "ui-monospace, 'JetBrains Mono', 'DejaVu Sans Mono', Menlo, Consolas, monospace",
      fontSize: FONT_SIZE,
      lineHeight: 1.1,
      theme: THEME,
      disableStdin: !canType,
      cursorBlink: false,
      allowProposedApi: false,
      convertEol: false,
    });
    this.fit = new FitAddon();
    this.term.loadAddon(this.fit);
    // OSC 52 would let any program write to the viewer's clipboard: swallow it.
    this.term.parser.registerOscHandler(52, () => true);
    this.term.open(this.host);
    this.term.onData((data) => this._onData(data));
    this._watchTyping();
    // Read-only view of the whole buffer (scrollback + screen) for tests and debugging.
    Object.defineProperty(this.element, "bufferText", { value: () => this.bufferText() });
    this.resizeObserver = new ResizeObserver(() => this._scheduleFit());
    this.resizeObserver.observe(this.body);
    this.updateAgent(agent);
  }

  // ------------------------------------------------------------------ DOM

  _buildDom(onClose, onToggleMaximize) {
    this.stateDot = el("span", { className: "state-dot", attrs: { "aria-hidden": "true" } });
    this.title = el("span", { className: "pane-title" });
    this.idLabel = el("span", { className: "pane-id", text: this.agentId });
    this.meta = el("span", { className: "pane-meta" });
    this.badge = el("span", { className: "pane-badge" });
    this.interruptButton = el("button", {
      className: "btn btn-danger", text: "Interrupt", attrs: { type: "button" },
      title: "Send SIGINT to the agent's foreground process group",
      on: { click: () => this._interrupt() },
    });
    const maximize = el("button", {
      className: "icon-btn", text: "⤢", attrs: { type: "button", "aria-label": "Maximize terminal" },
      title: "Maximize / restore", on: { click: () => onToggleMaximize(this) },
    });
    const close = el("button", {
      className: "icon-btn", text: "×", attrs: { type: "button", "aria-label": "Close terminal" },
      title: "Close this terminal", on: { click: () => onClose(this) },
    });
    const head = el("header", { className: "pane-head" },
      this.stateDot, this.title, this.idLabel, this.meta, this.badge,
      el("span", { className: "spacer" }),
      this.canType ? this.interruptButton : null, maximize, close);

    this.notice = el("div", { className: "pane-notice", attrs: { role: "status" } });
    this.notice.hidden = true;
    this.host = el("div", { className: "term-host" });
    this.body = el("div", { className: "pane-body" }, this.host);

    this.commandInput = el("input", {
      className: "command-input",
      attrs: {
        type: "text", autocomplete: "off", spellcheck: "false",
        placeholder: "Command line for the agent (Enter sends it with a carriage return)",
        "aria-label": "Command for the agent",
      },
    });
    this.ackLabel = el("span", { className: "ack", attrs: { role: "status", "aria-live": "polite" } });
    this.commandForm = el("form", {
      className: "pane-command", on: { submit: (e) => this._submitCommand(e) },
    }, el("span", { className: "prompt", text: "›", attrs: { "aria-hidden": "true" } }),
    this.commandInput,
    el("button", { className: "btn", text: "Send", attrs: { type: "submit" } }),
    this.ackLabel);

    this.element = el("section", {
      className: "pane", attrs: { "data-agent-id": this.agentId, "aria-label": `Terminal of ${this.agentId}` },
    }, head, this.notice, this.body, this.canType ? this.commandForm : null);
  }

  /** @param {AgentInfo} agent */
  updateAgent(agent) {
    this.agent = agent;
    setText(this.title, agent.name || agent.agent_id);
    this.stateDot.className = `state-dot state-${agent.state}`;
    const state = agent.state === "exited" ? `exited ${agent.exit_code ?? "?"}` : agent.state;
    setText(this.meta, `${state} · ${agent.cols}×${agent.rows} · ${agent.host}`);
    const live = agent.state === "running" || agent.state === "idle";
    this.interruptButton.disabled = !live;
    this.commandInput.disabled = !live;
    this._renderBadge();
    if (!this.typing) this._followAgentSize();
    if (this.waitingForAgent && agent.state !== "disconnected") this.resume();
  }

  _renderBadge() {
    if (!this.canType) {
      setText(this.badge, "read-only");
      this.badge.className = "pane-badge badge-readonly";
    } else if (this.typing) {
      setText(this.badge, "typing");
      this.badge.className = "pane-badge badge-typing";
    } else {
      setText(this.badge, "");
      this.badge.className = "pane-badge";
    }
    this.element.classList.toggle("is-typing", this.typing);
  }

  showNotice(text) {
    this.notice.hidden = !text;
    setText(this.notice, text ?? "");
  }

  focus() {
    this.term.focus();
  }

  /** The terminal's text, scrollback included, one line per row (wrapped rows joined). */
  bufferText() {
    const buffer = this.term.buffer.active;
    const lines = [];
    for (let y = 0; y < buffer.length; y++) {
      const line = buffer.getLine(y);
      if (!line) continue;
      const text = line.translateToString(true);
      if (line.isWrapped && lines.length > 0) lines[lines.length - 1] += text;
      else lines.push(text);
    }
    while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    return lines.join("\n");
  }

  /** Bytes received but not yet parsed by xterm (for tests: 0 once caught up). */
  get pendingBytes() {
    return this.queuedBytes + this.inFlight;
  }

  dispose() {
    this.subs.unsubscribe(this.agentId, this);
    this.resizeObserver.disconnect();
    window.clearTimeout(this.resizeTimer);
    this.term.dispose();
    this.element.remove();
  }

  // ------------------------------------------------------------------ subscription

  /** Subscribe for the first time: the whole retained scrollback, then live. */
  open() {
    this._subscribe(0, "open");
  }

  /** (Re)subscribe from the next byte this pane needs: after a reconnect or 4503. */
  resume() {
    this._subscribe(this.nextOffset, "resume");
  }

  /** @param {number} since @param {"open"|"resume"|"catch-up"|"skip"} reason */
  _subscribe(since, reason) {
    this.requestedSince = since;
    this.subscribeReason = reason;
    this.subs.subscribe(this.agentId, since, this);
  }

  onSubscribed(msg) {
    this.waitingForAgent = false;
    this.showNotice(null);
    if (this.subscribeReason === "catch-up" && msg.offset - msg.from > SKIP_AFTER) {
      // Closed as a slow consumer and far behind: replaying it all would only fall
      // behind again. Jump to near the end instead, visibly.
      const skipTo = msg.offset - RESUME_TAIL;
      this.skippedTotal += skipTo - this.requestedSince;
      this._marker(`skipped ${formatBytes(skipTo - this.requestedSince)} of output to catch up`);
      this.nextOffset = skipTo;
      this._subscribe(skipTo, "skip");
      return;
    }
    if (msg.from > this.requestedSince) {
      const lost = msg.from - this.requestedSince;
      this._marker(this.requestedSince === 0 && this.firstSubscribe
        ? `${formatBytes(lost)} of older output is no longer kept by the relay`
        : `${formatBytes(lost)} of output lost (no longer kept by the relay)`);
    }
    this.nextOffset = msg.from;
    if (this.subscribeReason !== "skip") {
      // Replay (first open, or what was missed while disconnected) is written in full.
      this.replayEnd = Math.max(this.replayEnd, msg.offset);
    }
    if (this.parsedOffset < msg.from && this.queue.length === 0 && this.inFlight === 0) {
      this.parsedOffset = msg.from;
    }
    this.firstSubscribe = false;
  }

  onSubscribeFailed(code) {
    this.waitingForAgent = true;
    this.showNotice(code === "forbidden"
      ? "This token may not watch this agent."
      : "Waiting for the agent to reconnect to the relay…");
  }

  onDetached() {}

  /** The connection was replaced: subscribe again where we left off. After a
   * slow-consumer close ("catch-up") a large backlog is skipped rather than replayed.
   * @param {"resume"|"catch-up"} mode */
  onReconnect(mode) {
    this._subscribe(this.nextOffset, mode);
  }

  onGap(msg) {
    if (msg.to <= this.nextOffset) return;
    const from = Math.max(msg.from, this.nextOffset);
    this._marker(`${formatBytes(msg.to - from)} of output lost by the relay`);
    this.nextOffset = msg.to;
  }

  /** @param {number} offset @param {Uint8Array} data */
  onOutput(offset, data) {
    const end = offset + data.length;
    if (end <= this.nextOffset) return; // already have it
    if (offset < this.nextOffset) {
      data = data.subarray(this.nextOffset - offset);
    } else if (offset > this.nextOffset) {
      this._marker(`${formatBytes(offset - this.nextOffset)} of output missing`);
    }
    this.nextOffset = end;
    this.tail.push(data);
    this._enqueue(data, end);
    this._maybeSkipAhead();
  }

  // ------------------------------------------------------------------ flow control

  _enqueue(data, end) {
    const size = typeof data === "string" ? data.length : data.length;
    this.queue.push({ data, size, end });
    this.queuedBytes += size;
    this._pump();
  }

  _pump() {
    while (this.queue.length > 0 && this.inFlight < HIGH_WATER) {
      const item = /** @type {{data: Uint8Array|string, size: number, end: number|null}} */ (this.queue.shift());
      this.queuedBytes -= item.size;
      this.inFlight += item.size;
      this.term.write(item.data, () => {
        this.inFlight -= item.size;
        if (item.end !== null) this.parsedOffset = item.end;
        this._pump();
      });
    }
  }

  /** Bytes received but not yet parsed, not counting the initial replay. */
  get liveBacklog() {
    return this.nextOffset - Math.max(this.parsedOffset, this.replayEnd);
  }

  _maybeSkipAhead() {
    if (this.liveBacklog <= SKIP_AFTER) return;
    const handedEnd = this._handedEnd();
    const skipTo = Math.max(handedEnd, this.nextOffset - RESUME_TAIL);
    const skipped = skipTo - handedEnd;
    this.queue = [];
    this.queuedBytes = 0;
    this.skippedTotal += skipped;
    this._marker(`skipped ${formatBytes(skipped)} of output to catch up`);
    this.nextOffset = skipTo;
    this._subscribe(skipTo, "skip");
  }

  /** End offset of the bytes already handed to xterm (parsed or in flight). */
  _handedEnd() {
    for (const item of this.queue) {
      if (item.end !== null) return item.end - item.size;
    }
    return this.nextOffset;
  }

  /** A visible line in the terminal, in order with the output around it. */
  _marker(text) {
    this._enqueue(`\x1b[0m\r\n\x1b[2;33m── ${text} ──\x1b[0m\r\n`, null);
    this.element.dataset.markers = String(Number(this.element.dataset.markers ?? 0) + 1);
  }

  // ------------------------------------------------------------------ input and size

  _watchTyping() {
    if (!this.canType) return;
    const engage = () => {
      if (this.typing) return;
      this.typing = true;
      this._renderBadge();
      this._fitAndResizeAgent();
    };
    // Capture phase: runs before xterm's own handlers turn the key into onData.
    this.host.addEventListener("keydown", engage, true);
    this.host.addEventListener("paste", engage, true);
    this.host.addEventListener("focusout", () => {
      this.typing = false;
      this._renderBadge();
      this._followAgentSize();
    });
  }

  _onData(data) {
    if (!this.canType || !this.typing) return;
    if (this.parsedOffset < this.replayEnd && QUERY_REPLY.test(data)) return;
    this.send({ type: "terminal:input", agent_id: this.agentId, data });
  }

  _scheduleFit() {
    window.clearTimeout(this.resizeTimer);
    this.resizeTimer = window.setTimeout(() => {
      if (this.typing) this._fitAndResizeAgent();
      else this._fitFontToWidth();
    }, 120);
  }

  /** Passive panes keep the agent's cols×rows; shrink the font (down to a readable
   * minimum) so that those columns fit the pane instead of being cut off. */
  _fitFontToWidth() {
    const screen = /** @type {HTMLElement | null} */ (this.host.querySelector(".xterm-screen"));
    const available = this.body.clientWidth - 10;
    if (!screen || !screen.offsetWidth || available <= 0) return;
    const current = this.term.options.fontSize ?? FONT_SIZE;
    const wanted = Math.floor((current * available) / screen.offsetWidth * 2) / 2;
    const next = Math.max(MIN_FONT_SIZE, Math.min(FONT_SIZE, wanted));
    if (next !== current) this.term.options.fontSize = next;
  }

  /** Typing operator: fit the terminal to the pane and tell the agent the new size. */
  _fitAndResizeAgent() {
    if (this.term.options.fontSize !== FONT_SIZE) this.term.options.fontSize = FONT_SIZE;
    const dims = this.fit.proposeDimensions();
    if (!dims || !Number.isFinite(dims.cols) || !Number.isFinite(dims.rows)) return;
    const cols = Math.max(2, Math.min(1000, dims.cols));
    const rows = Math.max(1, Math.min(1000, dims.rows));
    if (cols !== this.term.cols || rows !== this.term.rows) this.term.resize(cols, rows);
    if (cols !== this.agent.cols || rows !== this.agent.rows) {
      this.send({ type: "terminal:resize", agent_id: this.agentId, cols, rows });
    }
  }

  /** Everyone else shows the agent's real size, so its output lays out as intended. */
  _followAgentSize() {
    const { cols, rows } = this.agent;
    if (cols > 0 && rows > 0 && (cols !== this.term.cols || rows !== this.term.rows)) {
      this.term.resize(cols, rows);
    }
    this._fitFontToWidth();
  }

  // ------------------------------------------------------------------ commands

  _requestId() {
    return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  }

  async _submitCommand(event) {
    event.preventDefault();
    const input = this.commandInput.value;
    if (!input.trim()) return;
    this.commandInput.value = "";
    await this._showAck("command", this.request({
      type: "command:request", agent_id: this.agentId, request_id: this._requestId(),
      input, submit: true,
    }));
  }

  async _interrupt() {
    await this._showAck("interrupt", this.request({
      type: "command:interrupt", agent_id: this.agentId, request_id: this._requestId(),
      signal: "SIGINT",
    }));
  }

  /** @param {string} what @param {Promise<AckResult>} result */
  async _showAck(what, result) {
    this.ackLabel.className = "ack ack-pending";
    setText(this.ackLabel, `${what}: sending…`);
    const { ok, error } = await result;
    this.ackLabel.className = ok ? "ack ack-ok" : "ack ack-error";
    setText(this.ackLabel, ok ? `${what}: delivered ✓` : `${what} failed: ${error ?? "unknown error"}`);
  }
}
