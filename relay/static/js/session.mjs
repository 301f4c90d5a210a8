// What the page remembers between loads, and what tabs share.
//
// Token: in sessionStorage (this tab, this browser session; never in the URL, never in
// localStorage). A new tab of the same dashboard has an empty sessionStorage, so it asks
// the other open tabs over a BroadcastChannel (same origin only) and one of them hands
// its token over. "Forget token" forgets it in every tab of this dashboard.
//
// Workspace: which terminals are open, which one is in front, and where each was
// scrolled, in sessionStorage too, so a reload puts them back.
//
// Route: `#agent=ID` in the address bar names the agent in front, so a link to it can be
// bookmarked and shared; the token never joins it there.

const TOKEN_KEY = "agent-sidecar.dashboard.token";
const WORKSPACE_KEY = "agent-sidecar.dashboard.workspace";
const CHANNEL = "agent-sidecar.dashboard";
/** How long a tab without a token waits for another tab's answer before it asks. */
export const TOKEN_ASK_MS = 400;

/**
 * The token of this tab, shared with the dashboard's other tabs on request.
 */
export class TokenStore {
  /**
   * @param {{onToken: (token: string) => void, onForget: () => void}} handlers
   *   onToken: another tab handed over a token while this one had none;
   *   onForget: another tab's "forget token" was pressed.
   */
  constructor({ onToken, onForget }) {
    this.onToken = onToken;
    this.onForget = onForget;
    /** Only a token the relay accepted is handed to other tabs. */
    this.accepted = false;
    this.channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(CHANNEL) : null;
    this.channel?.addEventListener("message", (e) => this._onMessage(e.data));
  }

  /** @returns {string | null} */
  get() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  /** @param {string} token */
  set(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    this.accepted = false;
  }

  /** The relay accepted this tab's token (dashboard:connected). */
  markAccepted() {
    this.accepted = this.get() !== null;
  }

  /** Drop this tab's token (refused or expired); other tabs keep theirs. */
  drop() {
    sessionStorage.removeItem(TOKEN_KEY);
    this.accepted = false;
  }

  /** Forget the token here and in every other tab of this dashboard. */
  forgetEverywhere() {
    this.drop();
    this.channel?.postMessage({ type: "forget" });
  }

  /** Ask the other tabs for their token; an answer arrives through `onToken`. */
  askOtherTabs() {
    if (!this.channel) return false;
    this.channel.postMessage({ type: "token?" });
    return true;
  }

  _onMessage(msg) {
    if (typeof msg !== "object" || msg === null) return;
    if (msg.type === "token?" && this.accepted) {
      const token = this.get();
      if (token) this.channel?.postMessage({ type: "token", token });
    } else if (msg.type === "token" && typeof msg.token === "string" && this.get() === null) {
      this.set(msg.token);
      this.onToken(msg.token);
    } else if (msg.type === "forget") {
      this.drop();
      this.onForget();
    }
  }
}

/**
 * @typedef {{line: number, bottom: boolean}} ScrollPlace
 *   line: the buffer line at the top of the viewport; bottom: following the output.
 * @typedef {{open: string[], front: string | null, maximized: string | null,
 *   scroll: Record<string, ScrollPlace>}} Workspace
 */

/** @returns {Workspace} */
function emptyWorkspace() {
  return { open: [], front: null, maximized: null, scroll: {} };
}

/** The open terminals of this tab, kept across reloads. */
export class WorkspaceStore {
  constructor() {
    /** @type {Workspace} */
    this.state = WorkspaceStore.load();
    this.saveTimer = 0;
  }

  /** @returns {Workspace} */
  static load() {
    try {
      const raw = JSON.parse(sessionStorage.getItem(WORKSPACE_KEY) ?? "null");
      if (!raw || !Array.isArray(raw.open)) return emptyWorkspace();
      return {
        open: raw.open.filter((id) => typeof id === "string"),
        front: typeof raw.front === "string" ? raw.front : null,
        maximized: typeof raw.maximized === "string" ? raw.maximized : null,
        scroll: typeof raw.scroll === "object" && raw.scroll ? raw.scroll : {},
      };
    } catch {
      return emptyWorkspace();
    }
  }

  /** @param {string} agentId */
  opened(agentId) {
    if (!this.state.open.includes(agentId)) this.state.open.push(agentId);
    this.save();
  }

  /** @param {string} agentId */
  closed(agentId) {
    this.state.open = this.state.open.filter((id) => id !== agentId);
    delete this.state.scroll[agentId];
    if (this.state.front === agentId) this.state.front = null;
    if (this.state.maximized === agentId) this.state.maximized = null;
    this.save();
  }

  /** @param {string | null} agentId */
  setFront(agentId) {
    this.state.front = agentId;
    this.save();
  }

  /** @param {string | null} agentId */
  setMaximized(agentId) {
    this.state.maximized = agentId;
    this.save();
  }

  /** @param {string} agentId @param {ScrollPlace} place */
  setScroll(agentId, place) {
    this.state.scroll[agentId] = place;
    // Scroll events come in bursts: write once they pause.
    window.clearTimeout(this.saveTimer);
    this.saveTimer = window.setTimeout(() => this.save(), 200);
  }

  /** @param {string} agentId @returns {ScrollPlace | null} */
  scrollOf(agentId) {
    return this.state.scroll[agentId] ?? null;
  }

  clear() {
    this.state = emptyWorkspace();
    this.save();
  }

  save() {
    window.clearTimeout(this.saveTimer);
    sessionStorage.setItem(WORKSPACE_KEY, JSON.stringify(this.state));
  }
}

/** Read the URL fragment's parameters (`#token=...&agent=...`). */
export function fragmentParams() {
  const hash = location.hash.startsWith("#") ? location.hash.slice(1) : "";
  return new URLSearchParams(hash);
}

/** Rewrite the fragment without adding a history entry (or with one: `push`).
 * @param {URLSearchParams} params @param {{push?: boolean, state?: any}} [opts] */
export function writeFragment(params, { push = false, state = null } = {}) {
  const rest = params.toString();
  const url = `${location.pathname}${location.search}${rest ? `#${rest}` : ""}`;
  if (push) history.pushState(state, "", url);
  else history.replaceState(state ?? history.state, "", url);
}

/** Take `#token=...` out of the address bar at once; returns it (or null). */
export function takeTokenFromUrl() {
  const params = fragmentParams();
  const token = params.get("token");
  if (token === null) return null;
  params.delete("token");
  writeFragment(params);
  return token.trim() || null;
}

/** The agent the fragment names (`#agent=ID`), or null. */
export function agentFromUrl() {
  const id = fragmentParams().get("agent");
  return id ? id : null;
}

/** Point the fragment at `agentId` (or at nothing).
 * @param {string | null} agentId @param {{push?: boolean}} [opts] */
export function setAgentInUrl(agentId, { push = false } = {}) {
  const params = fragmentParams();
  params.delete("token");
  if (agentId === null) params.delete("agent");
  else params.set("agent", agentId);
  if (params.toString() === fragmentParams().toString() && !push) return;
  writeFragment(params, { push, state: push ? { agent: agentId, pushed: true } : null });
}

/** The shareable link to an agent on this dashboard (no token in it). @param {string} agentId */
export function agentLink(agentId) {
  const params = new URLSearchParams();
  params.set("agent", agentId);
  return `${location.origin}${location.pathname}#${params.toString()}`;
}
