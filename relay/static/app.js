// agent-sidecar dashboard: wires the connection, the fleet list and the terminals.
//
// Token: taken from the URL fragment (#token=JWT) the sidecar prints, removed from the
// address bar at once, kept in this tab's sessionStorage and handed to new tabs of the
// same dashboard on request (js/session.mjs); without one (or when the relay refuses
// it) a small form asks for one. "Forget token" forgets it in every tab.
//
// The agent in front is named in the fragment (#agent=ID): a link that can be
// bookmarked and shared, and that the phone's back button walks through.

import { Notifier, needsYou, tabTitle } from "./js/attention.mjs";
import { Connection, Subscriptions } from "./js/connection.mjs";
import { byId, el, setText } from "./js/dom.mjs";
import { FleetView } from "./js/fleet.mjs";
import { previewLine } from "./js/output.mjs";
import { PeekScheduler } from "./js/peek.mjs";
import {
  TOKEN_ASK_MS, TokenStore, WorkspaceStore, agentFromUrl, setAgentInUrl, takeTokenFromUrl,
} from "./js/session.mjs";
import { Viewport } from "./js/viewport.mjs";
import { Workspace } from "./js/workspace.mjs";

const REQUEST_TIMEOUT_MS = 15_000;
const PREVIEW_REFRESH_MS = 15_000;

function dashboardUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws/dashboard`;
}

class App {
  constructor() {
    /** @type {Connection | null} */
    this.conn = null;
    this.subs = new Subscriptions((msg) => this.conn?.send(msg) ?? false);
    /** @type {Map<string, {resolve: (r: {ok: boolean, error?: string}) => void, timer: number}>} */
    this.requests = new Map();
    this.role = null;
    /** @type {string | null} */
    this.sub = null;
    this.connects = 0;
    this.previewVersions = new Map();
    this.askTimer = 0;
    this.asking = false;
    /** The fleet came once since the page loaded: restore the workspace then. */
    this.restored = false;

    this.status = byId("conn-status");
    this.statusText = byId("conn-text");
    this.retryButton = byId("conn-retry");
    this.identity = byId("identity");
    this.notifyButton = /** @type {HTMLButtonElement} */ (byId("notify"));
    this.toasts = byId("toasts");
    this.tokenDialog = byId("token-dialog");
    this.tokenForm = /** @type {HTMLFormElement} */ (byId("token-form"));
    this.tokenInput = /** @type {HTMLInputElement} */ (byId("token-input"));
    this.tokenMessage = byId("token-message");

    this.tokens = new TokenStore({
      onToken: (token) => {
        if (this.conn === null) this.connect(token);
      },
      onForget: () => this.signOut({ everywhere: false }),
    });
    this.viewport = new Viewport({ onPhoneChange: () => this.workspace.relayout() });
    this.fleet = new FleetView({
      list: byId("fleet-list"),
      filter: /** @type {HTMLInputElement} */ (byId("fleet-filter")),
      stateFilters: byId("state-filters"),
      empty: byId("fleet-empty"),
      count: byId("fleet-count"),
      onOpen: (id) => this.openTerminal(id),
    });
    this.workspace = new Workspace({
      panes: byId("panes"),
      empty: byId("workspace-empty"),
      subs: this.subs,
      send: (msg) => this.conn?.send(msg) ?? false,
      request: (msg) => this.request(msg),
      store: new WorkspaceStore(),
      agent: (id) => this.fleet.get(id),
      me: () => this.sub,
      isPhone: () => this.viewport.phone,
      onChange: () => this._frontChanged(),
      onBack: () => this.goBack(),
    });
    this.notifier = new Notifier({
      onClick: (id) => this.openTerminal(id),
      onChange: () => this._renderNotifyButton(),
    });
    this.peeks = new PeekScheduler(
      this.subs,
      (id, bytes) => this.fleet.setPreview(id, previewLine(bytes)),
      (id) => this.workspace.has(id) || this.fleet.hasOwnPreview(id),
    );

    this.retryButton.addEventListener("click", () => this.conn?.retryNow());
    byId("signout").addEventListener("click", () => this.signOut({ everywhere: true }));
    this.notifyButton.addEventListener("click", () => this.notifier.ask());
    this.tokenForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const token = this.tokenInput.value.trim();
      if (!token) return;
      this.tokenInput.value = "";
      this.tokens.set(token);
      this.connect(token);
    });
    document.addEventListener("keydown", (e) => this._globalKey(e));
    window.addEventListener("popstate", () => this._followUrl());
    window.addEventListener("hashchange", () => this._followUrl());
    window.setInterval(() => this._tick(), 1000);
    window.setInterval(() => this._refreshPreviews(), PREVIEW_REFRESH_MS);
    this._renderNotifyButton();
  }

  start() {
    const fromUrl = takeTokenFromUrl();
    if (fromUrl) this.tokens.set(fromUrl);
    const token = fromUrl ?? this.tokens.get();
    if (token) {
      this.connect(token);
    } else if (this.tokens.askOtherTabs()) {
      // Another tab of this dashboard may hand its token over; ask a person only if
      // none answers soon.
      this.asking = true;
      this._renderStatus();
      this.askTimer = window.setTimeout(() => {
        this.asking = false;
        this._renderStatus();
        if (this.conn === null) this.askForToken(null);
      }, TOKEN_ASK_MS);
    } else {
      this.askForToken(null);
    }
  }

  // ------------------------------------------------------------------ token

  askForToken(message) {
    this.tokenDialog.hidden = false;
    this.tokenMessage.hidden = !message;
    setText(this.tokenMessage, message ?? "");
    this.tokenInput.focus();
  }

  connect(token) {
    window.clearTimeout(this.askTimer);
    this.asking = false;
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

  /** "Forget token": here, and (from the button) in every tab of this dashboard.
   * @param {{everywhere: boolean}} opts */
  signOut({ everywhere }) {
    if (everywhere) this.tokens.forgetEverywhere();
    else this.tokens.drop();
    this.conn?.stop();
    this.conn = null;
    this.workspace.closeAll();
    this.workspace.store.clear();
    this.fleet.setAll([]);
    this.role = null;
    this.sub = null;
    setText(this.identity, "");
    this._renderTitle();
    this.askForToken(null);
  }

  // ------------------------------------------------------------------ connection

  _onState(state) {
    this.status.dataset.state = state.kind;
    this.retryButton.hidden = state.kind !== "reconnecting";
    if (state.kind !== "connected") this.peeks.disable();
    this._renderStatus();
    if (state.kind === "refused") {
      this.tokens.drop();
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
      default: text = this.asking ? "asking other tabs for the token…" : "not connected";
    }
    setText(this.statusText, text);
  }

  _onMessage(msg) {
    switch (msg.type) {
      case "dashboard:connected": return this._onConnected(msg);
      case "agent:status": return this._onAgentStatus(msg.agent);
      case "agent:removed": return this._onAgentRemoved(msg.agent_id);
      case "agent:presence": return this.workspace.onPresence(msg);
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
    this.tokens.markAccepted();
    const canType = msg.role === "operator" || msg.role === "admin";
    this.workspace.setCanType(canType);
    this.workspace.setInputLimit(msg.input_limit);
    this.role = msg.role;
    this.sub = typeof msg.sub === "string" ? msg.sub : null;
    document.body.classList.toggle("read-only", !canType);
    setText(this.identity, `${msg.sub} · ${msg.role}`);
    this.identity.title = canType ? "You can type into terminals" : "Read-only: viewers cannot type";
    const agents = Array.isArray(msg.agents) ? msg.agents : [];
    this.fleet.setAll(agents);
    for (const info of agents) {
      this.workspace.updateAgent(info);
      this.notifier.observe(info, { initial: true });
    }
    this.subs.resumeAll(this.conn?.lastCloseCode === 4503 ? "catch-up" : "resume");
    if (!this.restored) {
      this.restored = true;
      this.workspace.restore(agentFromUrl());
    }
    this.peeks.enable();
    for (const info of agents) this.peeks.request(info.agent_id);
    this._renderTitle();
  }

  _onAgentStatus(info) {
    if (!info || typeof info.agent_id !== "string") return;
    const before = this.fleet.get(info.agent_id);
    this.fleet.upsert(info);
    this.workspace.updateAgent(info);
    this.workspace.arrived(info.agent_id);
    this.notifier.observe(info, { initial: !before });
    if (!before || before.state !== info.state || before.offset !== info.offset) {
      this.peeks.request(info.agent_id, { force: !before || before.state !== info.state });
    }
    this._renderTitle();
  }

  _onAgentRemoved(agentId) {
    this.fleet.remove(agentId);
    this.peeks.forget(agentId);
    this.notifier.forget(agentId);
    this.workspace.pane(agentId)?.showNotice("The relay has forgotten this agent; its terminal shows what was received.");
    this._renderTitle();
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

  // ------------------------------------------------------------------ terminals and the URL

  /** @param {string} agentId */
  openTerminal(agentId) {
    if (!this.fleet.get(agentId) && !this.workspace.has(agentId)) return;
    // On a phone, opening a terminal is a step the back button undoes.
    if (this.viewport.phone && !this.workspace.showingTerminal) setAgentInUrl(agentId, { push: true });
    this.workspace.open(agentId);
  }

  /** Phone: from the terminal back to the fleet, through the history when the terminal
   * was a step in it (so the browser's back button and ours agree). */
  goBack() {
    if (history.state?.pushed) history.back();
    else this.workspace.showFleet();
  }

  /** The open terminals or the one in front changed. */
  _frontChanged() {
    const ws = this.workspace;
    for (const id of [...this.fleet.openIds]) if (!ws.has(id)) this.fleet.setOpen(id, false);
    for (const pane of ws.panes()) this.fleet.setOpen(pane.agentId, true);
    setAgentInUrl(ws.showingTerminal || !this.viewport.phone ? ws.front : null);
    this._renderTitle();
  }

  /** Back/forward or an edited fragment: show the agent it names. */
  _followUrl() {
    const wanted = agentFromUrl();
    if (wanted === null) {
      if (this.viewport.phone) this.workspace.showFleet();
      return;
    }
    if (wanted !== this.workspace.front || !this.workspace.showingTerminal) {
      if (this.fleet.get(wanted) || this.workspace.has(wanted)) this.workspace.open(wanted);
    }
  }

  // ------------------------------------------------------------------ title, notifications

  _renderTitle() {
    const front = this.workspace.front;
    const info = front ? this.fleet.get(front) : null;
    const frontName = this.workspace.showingTerminal && front ? (info?.name || front) : null;
    const waiting = this.fleet.waitingCount();
    // The back button (phones) counts the others: the one in front shows its question.
    this.workspace.setWaitingCount(waiting - (info && needsYou(info) ? 1 : 0));
    const title = tabTitle(waiting, frontName);
    if (document.title !== title) document.title = title;
  }

  _renderNotifyButton() {
    const permission = this.notifier.permission;
    const button = this.notifyButton;
    button.hidden = permission === "unsupported";
    button.dataset.permission = permission;
    button.disabled = permission !== "default";
    setText(button, permission === "granted" ? "notifying" : permission === "denied" ? "blocked" : "Notify me");
    button.title = permission === "granted"
      ? "Notifications are on: an agent that starts waiting while this page is hidden notifies you"
      : permission === "denied"
        ? "Notifications are blocked for this site (change it in the browser's site settings)"
        : "Get a notification when an agent starts waiting while this page is hidden";
  }

  // ------------------------------------------------------------------ periodic

  _tick() {
    this.fleet.tick();
    this._renderStatus();
    for (const pane of this.workspace.panes()) {
      const id = pane.agentId;
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
