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
// that pane (a pointer press, key or paste in it since it got focus).
//
// Size (docs/protocol.md, "Steering"): while a local terminal is attached to the agent
// (AgentInfo.local_terminal), every pane shows the agent's cols x rows, shrinking its
// font down to MIN_FONT_SIZE and scrolling horizontally beyond that. Only for a headless
// agent (local_terminal === false) does the typing operator's pane size the PTY, from
// the moment the pointer goes down in it (so the resize never travels with a key).
//
// Terminal queries (cursor position, device attributes, mode and colour reports): only
// one terminal may answer. Parser hooks swallow the queries in every pane that must not
// answer, so xterm.js generates no reply there: all panes when a local terminal is
// attached, otherwise all but the typing pane, and every pane while replaying.

import { Terminal } from "@xterm/xterm";
import { WebLinksAddon } from "@xterm/addon-web-links";
import { el, formatBytes, setText } from "./dom.mjs";
import { TailBuffer } from "./output.mjs";
import { InputPacer, pacing } from "./pacer.mjs";

export const HIGH_WATER = 256 * 1024;
export const SKIP_AFTER = 4 * 1024 * 1024;
export const RESUME_TAIL = 64 * 1024;
export const FONT_SIZE = 13;
/** The smallest font a pane shrinks to; past it the pane scrolls horizontally. */
export const MIN_FONT_SIZE = 9;

/** The Tango palette (GNOME Terminal's default), on the dashboard's background. */
export const THEME = {
  background: "#0d1015",
  foreground: "#d3d7cf",
  cursor: "#d3d7cf",
  cursorAccent: "#0d1015",
  selectionBackground: "#3a4a66",
  black: "#2e3436", red: "#cc0000", green: "#4e9a06", yellow: "#c4a000",
  blue: "#3465a4", magenta: "#75507b", cyan: "#06989a", white: "#d3d7cf",
  brightBlack: "#555753", brightRed: "#ef2929", brightGreen: "#8ae234", brightYellow: "#fce94f",
  brightBlue: "#729fcf", brightMagenta: "#ad7fa8", brightCyan: "#34e2e2", brightWhite: "#eeeeec",
};

/** What Stop sends to each agent kind (AgentInfo.activity.agent_kind); agents not listed
 * get SIGINT. Mirrors agent_sidecar/agents.py (a unit test keeps them equal). */
export const STOP_KEYS = {
  claude: { keys: "\x1b", name: "Esc" },
  codex: { keys: "\x1b", name: "Esc" },
  gemini: { keys: "\x1b", name: "Esc" },
  aider: { keys: "\x03", name: "Ctrl+C" },
};
const AGENT_NAMES = {
  claude: "Claude Code", codex: "Codex", gemini: "Gemini CLI", aider: "Aider",
};

const IS_MAC = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);

/**
 * The agent kind: the sidecar's own report (activity.agent_kind), or, until it sends an
 * activity, the agent named by the command (a plain name match, nothing more).
 * @param {{command?: string[], activity?: {agent_kind?: string}|null}} agent
 * @returns {string}
 */
export function agentKind(agent) {
  const reported = agent.activity?.agent_kind;
  if (reported) return reported;
  for (const word of agent.command ?? []) {
    const m = /(?:^|[/@])(claude|codex|gemini|aider)(?:-code|-cli|-chat)?(?:@[^/]*)?(?:\.[cm]?js)?$/.exec(word);
    if (m) return m[1];
  }
  return "other";
}

/** Set the font size. xterm.js 6.0 does not update its viewport's scroll range when only
 * the font changes, so wheel and touch scrolling stay stuck on the old row height
 * until the buffer next resizes; ask for the resync it misses.
 * @param {Terminal} term @param {number} size */
function setFontSize(term, size) {
  if (term.options.fontSize === size) return;
  term.options.fontSize = size;
  /** @type {any} */ (term)._core?._viewport?.queueSync?.();
}

/** Links open in a new tab without access back to this page (http and https only). */
function openLink(uri) {
  let url;
  try {
    url = new URL(uri);
  } catch {
    return;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return;
  window.open(url.href, "_blank", "noopener,noreferrer");
}

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
   *   inputLimit?: {rate: number, burst: number} | null,
   *   onClose: (pane: TerminalPane) => void,
   *   onToggleMaximize: (pane: TerminalPane) => void}} opts
   */
  constructor({ agent, subs, send, request, canType, inputLimit, onClose, onToggleMaximize }) {
    this.agentId = agent.agent_id;
    this.agent = agent;
    this.subs = subs;
    this.send = send;
    this.request = request;
    this.canType = canType;
    this.typing = false;
    /** This pane sizes the (headless) agent's PTY until another pane takes over. */
    this.ownsSize = false;
    /** @type {{cols: number, rows: number} | null} a resize not yet seen in a status */
    this.sentSize = null;
    this.tail = new TailBuffer(4096);
    /** Typed input, paced under the relay's rate limit (keys from the pane and the key bar). */
    this.input = new InputPacer(
      (data) => this.send({ type: "terminal:input", agent_id: this.agentId, data }),
      pacing(inputLimit),
    );

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
    this.fitFrame = 0;

    this._buildDom(onClose, onToggleMaximize);
    this.term = new Terminal({
      cols: agent.cols || 80,
      rows: agent.rows || 24,
      scrollback: 10_000,
      fontFamily: "ui-monospace, 'JetBrains Mono', 'DejaVu Sans Mono', Menlo, Consolas, monospace",
      fontSize: FONT_SIZE,
      lineHeight: 1.1,
      theme: THEME,
      drawBoldTextInBrightColors: false,
      disableStdin: !canType,
      cursorBlink: false,
      allowProposedApi: false,
      convertEol: false,
      // OSC 8 hyperlinks.
      linkHandler: { activate: (_event, uri) => openLink(uri), allowNonHttpProtocols: false },
    });
    // Plain URLs in the output.
    this.term.loadAddon(new WebLinksAddon((_event, uri) => openLink(uri)));
    // OSC 52 would let any program write to the viewer's clipboard: swallow it.
    this.term.parser.registerOscHandler(52, () => true);
    this._hookQueries();
    this.term.attachCustomKeyEventHandler((event) => this._keyFilter(event));
    this.term.open(this.host);
    this.term.onData((data) => this._onData(data));
    this._watchTyping();
    // Read-only view of the whole buffer (scrollback + screen) for tests and debugging.
    Object.defineProperty(this.element, "bufferText", { value: () => this.bufferText() });
    // The pane's API (stop, interrupt, sendCommand, term) from its element.
    Object.defineProperty(this.element, "pane", { value: this });
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
    this.stopButton = el("button", {
      className: "btn btn-stop", text: "Stop", attrs: { type: "button" },
      on: { click: () => this.stop() },
    });
    this.interruptButton = el("button", {
      className: "btn btn-danger", text: "SIGINT", attrs: { type: "button" },
      title: "Send SIGINT to the agent's foreground process group (many agents exit on it)",
      on: { click: () => this.interrupt() },
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
      this.canType ? this.stopButton : null, this.canType ? this.interruptButton : null,
      maximize, close);

    this.notice = el("div", { className: "pane-notice", attrs: { role: "status" } });
    this.notice.hidden = true;
    this.host = el("div", { className: "term-host" });
    this.body = el("div", { className: "pane-body" }, this.host);

    this.commandInput = el("input", {
      className: "command-input",
      attrs: {
        type: "text", autocomplete: "off", spellcheck: "false",
        placeholder: "Command line for the agent (Enter submits it)",
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
    // The id only when the title is another name: the same text twice took the room
    // the name needs when panes sit side by side.
    const otherId = agent.name && agent.name !== agent.agent_id ? agent.agent_id : "";
    setText(this.idLabel, otherId);
    this.idLabel.hidden = !otherId;
    this.stateDot.className = `state-dot state-${agent.state}`;
    const state = agent.state === "exited" ? `exited ${agent.exit_code ?? "?"}` : agent.state;
    setText(this.meta, `${state} · ${agent.cols}×${agent.rows} · ${agent.host}`);
    this.meta.title = agent.local_terminal
      ? "A local terminal is attached to this agent: it sets the size, panes adapt"
      : agent.local_terminal === false
        ? "No local terminal: the operator typing into a pane sets the size"
        : "";
    const live = agent.state === "running" || agent.state === "idle";
    this.interruptButton.disabled = !live;
    this.stopButton.disabled = !live;
    this.commandInput.disabled = !live;
    const kind = agentKind(agent);
    const stopKey = STOP_KEYS[kind];
    this.stopButton.title = stopKey
      ? `Stop ${AGENT_NAMES[kind] ?? kind}'s current turn: sends ${stopKey.name}, its own stop key`
      : "Stop the running job: SIGINT to the foreground process group";
    // For shells and plain commands Stop already is SIGINT: one button is enough.
    this.interruptButton.hidden = !stopKey;
    this._renderBadge();
    this._checkSizeOwner(agent);
    this._applySize();
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
    this.input.close();
    this.subs.unsubscribe(this.agentId, this);
    this.resizeObserver.disconnect();
    window.clearTimeout(this.resizeTimer);
    window.cancelAnimationFrame(this.fitFrame);
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
    if (code !== "forbidden" && this.agent.state === "exited") {
      // It finished, and the relay no longer has it: nothing will reconnect.
      this.waitingForAgent = false;
      this.showNotice(`Exited ${this.agent.exit_code ?? "?"}; the relay no longer keeps `
        + "this agent. Its output above is what this page received.");
      return;
    }
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

  /** True when this pane's size becomes the agent's PTY size while its user types:
   * the agent has no local terminal (the sidecar said so). */
  get sizesAgent() {
    return this.canType && this.agent.local_terminal === false;
  }

  _watchTyping() {
    if (!this.canType) return;
    const engage = () => {
      if (this.typing && this.ownsSize) return;
      this.typing = true;
      this.ownsSize = this.sizesAgent;
      this._renderBadge();
      this._applySize();
    };
    // Capture phase: runs before xterm's own handlers turn the key into onData. A pointer
    // press engages too, so a headless agent is resized before the first key, not with it.
    this.host.addEventListener("pointerdown", engage, true);
    this.host.addEventListener("keydown", engage, true);
    this.host.addEventListener("paste", engage, true);
    this.host.addEventListener("focusout", () => {
      this.typing = false;
      this.ownsSize = false;
      this._renderBadge();
      this._applySize();
    });
  }

  _onData(data) {
    if (!this.canType || !this.typing) return;
    // Focus reports (DECSET 1004) from a pane are not the agent's terminal's focus.
    if (this.agent.local_terminal && (data === "\x1b[I" || data === "\x1b[O")) return;
    this.input.push(data);
  }

  /** Whether xterm.js may answer a terminal query now (see the header comment). */
  _answersQueries() {
    if (this.agent.local_terminal) return false;
    return this.canType && this.typing && this.parsedOffset >= this.replayEnd;
  }

  /** Swallow the queries xterm.js would answer, unless this pane is the one answering. */
  _hookQueries() {
    const parser = this.term.parser;
    const swallow = () => !this._answersQueries();
    for (const prefix of [{}, { prefix: "?" }]) {
      parser.registerCsiHandler({ ...prefix, final: "n" }, swallow); // DSR, CPR
      parser.registerCsiHandler({ ...prefix, intermediates: "$", final: "p" }, swallow); // DECRQM
    }
    for (const prefix of [{}, { prefix: ">" }, { prefix: "=" }]) {
      parser.registerCsiHandler({ ...prefix, final: "c" }, swallow); // DA1, DA2, DA3
    }
    parser.registerCsiHandler({ prefix: ">", final: "q" }, swallow); // XTVERSION
    parser.registerDcsHandler({ intermediates: "$", final: "q" }, swallow); // DECRQSS
    for (const osc of [4, 10, 11, 12, 17, 19]) {
      parser.registerOscHandler(osc, (data) => data.includes("?") && swallow());
    }
  }

  /** Copy and paste like a terminal app: Ctrl+C / Cmd+C with a selection copies and
   * sends nothing; Ctrl+V / Cmd+V (and Ctrl+Shift+C / V) are left to the browser, whose
   * paste event xterm.js turns into input (bracketed when the program asked for it). */
  _keyFilter(event) {
    if (event.type !== "keydown") return true;
    const key = event.key.toLowerCase();
    const primary = IS_MAC ? event.metaKey : event.ctrlKey;
    if (!primary || event.altKey) return true;
    if (key === "c" && (this.term.hasSelection() || event.shiftKey)) return false;
    return key !== "v";
  }

  _scheduleFit() {
    window.clearTimeout(this.resizeTimer);
    this.resizeTimer = window.setTimeout(() => this._applySize(), 120);
  }

  /** A status with a size this pane did not ask for: another operator's pane took the
   * size over (the last one to click or type into a pane has it). */
  _checkSizeOwner(agent) {
    if (!this.ownsSize) return;
    const sent = this.sentSize;
    if (sent && agent.cols === sent.cols && agent.rows === sent.rows) {
      this.sentSize = null;
      return;
    }
    if (!sent && (agent.cols !== this.term.cols || agent.rows !== this.term.rows)) {
      this.ownsSize = false;
    }
  }

  /** Size the terminal by the rule in the header comment. */
  _applySize() {
    if (this.sizesAgent && this.typing && this.ownsSize) {
      this._fitAndResizeAgent();
      return;
    }
    const { cols, rows } = this.agent;
    if (cols > 0 && rows > 0 && (cols !== this.term.cols || rows !== this.term.rows)) {
      this.term.resize(cols, rows);
    }
    this._fitFont();
  }

  /** Shrink the font (not below MIN_FONT_SIZE, not above FONT_SIZE) until the agent's
   * columns and rows fit the pane; past the floor the pane scrolls. xterm measures the
   * new cell size on its next render, so this settles over up to three frames. */
  _fitFont(pass = 0) {
    window.cancelAnimationFrame(this.fitFrame);
    const screen = /** @type {HTMLElement | null} */ (this.host.querySelector(".xterm-screen"));
    const width = this._availableWidth();
    const height = this.body.clientHeight - 4;
    if (!screen || !screen.offsetWidth || width <= 0 || height <= 0) return;
    const current = this.term.options.fontSize ?? FONT_SIZE;
    const scale = Math.min(width / screen.offsetWidth, height / screen.offsetHeight);
    let next = Math.floor(current * scale * 2) / 2;
    if (pass > 0 && next >= current && scale < 1) next = current - 0.5;
    next = Math.max(MIN_FONT_SIZE, Math.min(FONT_SIZE, next));
    if (next === current) return;
    setFontSize(this.term, next);
    if (pass < 3) this.fitFrame = window.requestAnimationFrame(() => this._fitFont(pass + 1));
  }

  /** Width for the terminal: the pane body without its padding and scrollbar. */
  _availableWidth() {
    const style = window.getComputedStyle(this.body);
    return this.body.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)
      - 14; // xterm's own vertical scrollbar
  }

  /** Typing operator of a headless agent: fit the terminal to the pane at the normal
   * font size and tell the agent the new size. */
  _fitAndResizeAgent() {
    setFontSize(this.term, FONT_SIZE);
    const screen = /** @type {HTMLElement | null} */ (this.host.querySelector(".xterm-screen"));
    if (!screen || !screen.offsetWidth || !screen.offsetHeight) return;
    const cellWidth = screen.offsetWidth / this.term.cols;
    const cellHeight = screen.offsetHeight / this.term.rows;
    const cols = Math.max(2, Math.min(1000, Math.floor(this._availableWidth() / cellWidth)));
    const rows = Math.max(1, Math.min(1000, Math.floor((this.body.clientHeight - 4) / cellHeight)));
    if (cols !== this.term.cols || rows !== this.term.rows) this.term.resize(cols, rows);
    const pending = this.sentSize;
    if (pending && pending.cols === cols && pending.rows === rows) return; // already asked
    if (cols !== this.agent.cols || rows !== this.agent.rows) {
      this.sentSize = { cols, rows };
      this.send({ type: "terminal:resize", agent_id: this.agentId, cols, rows });
    }
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
    await this.sendCommand(input);
  }

  /** Submit a command line; resolves with the sidecar's ack (ok: it was typed, read
   * by the program and Enter followed). @param {string} input */
  sendCommand(input) {
    return this._showAck("command", "submitted", this.request({
      type: "command:request", agent_id: this.agentId, request_id: this._requestId(),
      input, submit: true,
    }));
  }

  /** Stop what the agent is doing the way a person means it: the agent's own stop key
   * for a recognised agent (written as input), SIGINT for shells and other commands. */
  stop() {
    const stopKey = STOP_KEYS[agentKind(this.agent)];
    if (!stopKey) return this._signal("stop", "SIGINT");
    return this._showAck("stop", `${stopKey.name} sent`, this.request({
      type: "command:request", agent_id: this.agentId, request_id: this._requestId(),
      input: stopKey.keys, submit: false,
    }));
  }

  /** SIGINT to the agent's foreground process group (contract: command:interrupt). */
  interrupt() {
    return this._signal("SIGINT", "SIGINT");
  }

  _signal(what, signal) {
    return this._showAck(what, `${signal} delivered`, this.request({
      type: "command:interrupt", agent_id: this.agentId, request_id: this._requestId(),
      signal,
    }));
  }

  /** @param {string} what @param {string} done @param {Promise<AckResult>} result */
  async _showAck(what, done, result) {
    this.ackLabel.className = "ack ack-pending";
    setText(this.ackLabel, `${what}: sending…`);
    const outcome = await result;
    const { ok, error } = outcome;
    this.ackLabel.className = ok ? "ack ack-ok" : "ack ack-error";
    setText(this.ackLabel, ok ? `${what}: ${done} ✓` : `${what} failed: ${error ?? "unknown error"}`);
    return outcome;
  }
}
