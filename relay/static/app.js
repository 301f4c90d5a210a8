// agent-sidecar dashboard: wires the connection, the fleet list and the terminal panes.
//
// Token: taken from the URL fragment (#token=JWT) the sidecar prints, removed from the
// address bar at once, kept in sessionStorage so a reload works; without one (or when
// the relay refuses it) a small form asks for one.

import { Connection, Subscriptions } from "./js/connection.mjs";
import { byId, el, setText } from "./js/dom.mjs";
import { FleetView } from "./js/fleet.mjs";
import { previewLine } from "./js/output.mjs";
import { PeekScheduler } from "./js/peek.mjs";
import { TerminalPane } from "./js/terminal.mjs";

const TOKEN_KEY = "agent-sidecar.dashboard.token";
const REQUEST_TIMEOUT_MS = 15_000;
const PREVIEW_REFRESH_MS = 15_000;

/** Read `#token=...` from the fragment and remove it from the address bar. */
function takeTokenFromUrl() {
  const hash = location.hash.startsWith("#") ? location.hash.slice(1) : "";
  if (!hash) return null;
  const params = new URLSearchParams(hash);
  const token = params.get("token");
  if (token === null) return null;
  params.delete("token");
  const rest = params.toString();
  history.replaceState(history.state, "", `${location.pathname}${location.search}${rest ? `#${rest}` : ""}`);
  return token.trim() || null;
}

function dashboardUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws/dashboard`;
}

class App {
  constructor() {
    /** @type {Connection | null} */
    this.conn = null;
    this.subs = new Subscriptions((msg) => this.conn?.send(msg) ?? false);
    /** @type {Map<string, TerminalPane>} */
    this.panes = new Map();
    /** @type {Map<string, {resolve: (r: {ok: boolean, error?: string}) => void, timer: number}>} */
    this.requests = new Map();
    this.role = null;
    this.connects = 0;
    this.maximized = null;
    this.previewVersions = new Map();

    this.status = byId("conn-status");
    this.statusText = byId("conn-text");
    this.retryButton = byId("conn-retry");
    this.identity = byId("identity");
    this.panesEl = byId("panes");
    this.workspaceEmpty = byId("workspace-empty");
    this.toasts = byId("toasts");
    this.tokenDialog = byId("token-dialog");
    this.tokenForm = /** @type {HTMLFormElement} */ (byId("token-form"));
    this.tokenInput = /** @type {HTMLInputElement} */ (byId("token-input"));
    this.tokenMessage = byId("token-message");

    this.fleet = new FleetView({
      list: byId("fleet-list"),
      filter: /** @type {HTMLInputElement} */ (byId("fleet-filter")),
      stateFilters: byId("state-filters"),
      empty: byId("fleet-empty"),
      count: byId("fleet-count"),
      onOpen: (id) => this.openTerminal(id),
    });
    this.peeks = new PeekScheduler(
      this.subs,
      (id, bytes) => this.fleet.setPreview(id, previewLine(bytes)),
      (id) => this.panes.has(id),
    );

    this.retryButton.addEventListener("click", () => this.conn?.retryNow());
    byId("signout").addEventListener("click", () => this.signOut());
    this.tokenForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const token = this.tokenInput.value.trim();
      if (!token) return;
      this.tokenInput.value = "";
      sessionStorage.setItem(TOKEN_KEY, token);
      this.connect(token);
    });
    document.addEventListener("keydown", (e) => this._globalKey(e));
    window.setInterval(() => this._tick(), 1000);
    window.setInterval(() => this._refreshPreviews(), PREVIEW_REFRESH_MS);
  }

  start() {
    const fromUrl = takeTokenFromUrl();
    if (fromUrl) sessionStorage.setItem(TOKEN_KEY, fromUrl);
    const token = fromUrl ?? sessionStorage.getItem(TOKEN_KEY);
    if (token) this.connect(token);
    else this.askForToken(null);
  }

  // ------------------------------------------------------------------ token

  askForToken(message) {
    this.tokenDialog.hidden = false;
    this.tokenMessage.hidden = !message;
    setText(this.tokenMessage, message ?? "");
    this.tokenInput.focus();
  }

  connect(token) {
    this.conn?.stop();
    this.tokenDialog.hidden = true;
    this.conn = new Connection({
      url: dashboardUrl(),
      token,
      onState: (state) => this._onState(state),
      onMessage: (msg) => this._onMessage(msg),
      onOutput: (agentId, offset, data) => this.subs.onOutput(agentId, offset, data),
    });
    this.conn.start();
  }

  signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    this.conn?.stop();
    this.conn = null;
    for (const pane of [...this.panes.values()]) this.closeTerminal(pane);
    this.fleet.setAll([]);
    this.role = null;
    setText(this.identity, "");
    this.askForToken(null);
  }

  // ------------------------------------------------------------------ connection

  _onState(state) {
    this.status.dataset.state = state.kind;
    this.retryButton.hidden = state.kind !== "reconnecting";
    if (state.kind !== "connected") this.peeks.disable();
    this._renderStatus();
    if (state.kind === "refused") {
      sessionStorage.removeItem(TOKEN_KEY);
      if (state.expired) {
        this._failPendingRequests("the session expired");
        this.askForToken(`Session expired (${state.code}): the token's time ran out, so the `
          + "relay ended this session. Open a fresh dashboard link, or mint a new token "
          + "(agent-sidecar token --role operator --sub you) and paste it here.");
      } else {
        this._failPendingRequests("the relay refused the token");
        this.askForToken(`Refused (${state.code}): ${state.reason}. Paste a valid token.`);
      }
    } else if (state.kind === "reconnecting") {
      this._failPendingRequests("connection to the relay lost");
    }
  }

  _renderStatus() {
    const state = this.conn?.state ?? { kind: "stopped" };
    let text = "";
    switch (state.kind) {
      case "connecting": text = "connecting…"; break;
      case "connected": text = "connected"; break;
      case "reconnecting": {
        const secs = Math.max(0, Math.ceil((state.at - Date.now()) / 1000));
        text = `reconnecting in ${secs}s (${state.reason})`;
        break;
      }
      case "refused": text = state.expired ? "session expired" : `refused (${state.code})`; break;
      default: text = "not connected";
    }
    setText(this.statusText, text);
  }

  _onMessage(msg) {
    switch (msg.type) {
      case "dashboard:connected": return this._onConnected(msg);
      case "agent:status": return this._onAgentStatus(msg.agent);
      case "agent:removed": return this._onAgentRemoved(msg.agent_id);
      case "subscribed":
      case "unsubscribed": return this.subs.onReply(msg);
      case "terminal:gap": return this.subs.onGap(msg);
      case "command:ack": return this._settle(msg.request_id, { ok: msg.ok === true, error: msg.error });
      case "error": return this._onError(msg);
      default: return undefined; // heartbeat echoes and future message types
    }
  }

  _onConnected(msg) {
    // Sessions so far, as an attribute: tests (and curious humans) can tell reconnects apart.
    this.status.dataset.connects = String(++this.connects);
    const canType = msg.role === "operator" || msg.role === "admin";
    if (this.role !== null && this.role !== msg.role) {
      for (const pane of [...this.panes.values()]) this.closeTerminal(pane);
    }
    this.role = msg.role;
    document.body.classList.toggle("read-only", !canType);
    setText(this.identity, `${msg.sub} · ${msg.role}`);
    this.identity.title = canType ? "You can type into terminals" : "Read-only: viewers cannot type";
    const agents = Array.isArray(msg.agents) ? msg.agents : [];
    this.fleet.setAll(agents);
    for (const info of agents) this.panes.get(info.agent_id)?.updateAgent(info);
    this.subs.resumeAll(this.conn?.lastCloseCode === 4503 ? "catch-up" : "resume");
    this.peeks.enable();
    for (const info of agents) this.peeks.request(info.agent_id);
  }

  _onAgentStatus(info) {
    if (!info || typeof info.agent_id !== "string") return;
    const before = this.fleet.get(info.agent_id);
    this.fleet.upsert(info);
    this.panes.get(info.agent_id)?.updateAgent(info);
    if (!before || before.state !== info.state || before.offset !== info.offset) {
      this.peeks.request(info.agent_id, { force: !before || before.state !== info.state });
    }
  }

  _onAgentRemoved(agentId) {
    this.fleet.remove(agentId);
    this.peeks.forget(agentId);
    this.panes.get(agentId)?.showNotice("The relay has forgotten this agent; its terminal shows what was received.");
  }

  _onError(msg) {
    if (msg.ref && this.requests.has(msg.ref)) {
      this._settle(msg.ref, { ok: false, error: `${msg.code}: ${msg.message}` });
      return;
    }
    if (this.subs.onError(msg)) return;
    this.toast(`${msg.code}: ${msg.message}`);
  }

  // ------------------------------------------------------------------ requests

  /** Send a request that the relay acknowledges (command:ack or error with ref). */
  request(msg) {
    return new Promise((resolve) => {
      if (!this.conn?.send(msg)) {
        resolve({ ok: false, error: "not connected to the relay" });
        return;
      }
      const timer = window.setTimeout(
        () => this._settle(msg.request_id, { ok: false, error: "no answer from the agent" }),
        REQUEST_TIMEOUT_MS);
      this.requests.set(msg.request_id, { resolve, timer });
    });
  }

  _settle(requestId, result) {
    const pending = this.requests.get(requestId);
    if (!pending) return;
    this.requests.delete(requestId);
    window.clearTimeout(pending.timer);
    pending.resolve(result);
  }

  _failPendingRequests(reason) {
    for (const id of [...this.requests.keys()]) this._settle(id, { ok: false, error: reason });
  }

  // ------------------------------------------------------------------ terminals

  openTerminal(agentId) {
    const existing = this.panes.get(agentId);
    if (existing) {
      existing.focus();
      return;
    }
    const info = this.fleet.get(agentId);
    if (!info) return;
    const pane = new TerminalPane({
      agent: info,
      subs: this.subs,
      send: (msg) => this.conn?.send(msg) ?? false,
      request: (msg) => this.request(msg),
      canType: this.role === "operator" || this.role === "admin",
      onClose: (p) => this.closeTerminal(p),
      onToggleMaximize: (p) => this.toggleMaximize(p),
    });
    this.panes.set(agentId, pane);
    this.panesEl.append(pane.element);
    this.fleet.setOpen(agentId, true);
    this._layout();
    pane.open();
    pane.focus();
  }

  closeTerminal(pane) {
    pane.dispose();
    this.panes.delete(pane.agentId);
    this.previewVersions.delete(pane.agentId);
    this.fleet.setOpen(pane.agentId, false);
    if (this.maximized === pane) this.maximized = null;
    this._layout();
  }

  toggleMaximize(pane) {
    this.maximized = this.maximized === pane ? null : pane;
    this._layout();
  }

  _layout() {
    const count = this.panes.size;
    this.workspaceEmpty.hidden = count > 0;
    this.panesEl.dataset.count = String(count);
    this.panesEl.classList.toggle("has-maximized", this.maximized !== null);
    for (const pane of this.panes.values()) {
      pane.element.classList.toggle("is-maximized", pane === this.maximized);
    }
  }

  // ------------------------------------------------------------------ periodic

  _tick() {
    this.fleet.tick();
    this._renderStatus();
    for (const [id, pane] of this.panes) {
      if (this.previewVersions.get(id) === pane.tail.version) continue;
      this.previewVersions.set(id, pane.tail.version);
      this.fleet.setPreview(id, previewLine(pane.tail.bytes));
    }
  }

  _refreshPreviews() {
    if (document.hidden) return;
    for (const id of this.fleet.visibleIds()) {
      const info = this.fleet.get(id);
      if (info?.state === "running") this.peeks.request(id);
    }
  }

  toast(text) {
    const node = el("div", { className: "toast", text, attrs: { role: "status" } });
    this.toasts.append(node);
    window.setTimeout(() => node.remove(), 6000);
    while (this.toasts.children.length > 4) this.toasts.firstElementChild?.remove();
  }

  _globalKey(e) {
    const target = /** @type {HTMLElement} */ (e.target);
    const typingSomewhere = target.closest("input, textarea, .term-host, [contenteditable]");
    if (e.key === "/" && !typingSomewhere && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      byId("fleet-filter").focus();
    }
  }
}

new App().start();
