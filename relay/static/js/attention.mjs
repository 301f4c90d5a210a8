// Which agents need a person, and how the page says so: the order of the fleet, the
// words of its rows, the tab title, and browser notifications while the page is hidden.
//
// An agent's `activity` (contract section 11, protocol 1.1) says whether it waits for a
// person; relays and sidecars before 1.1 send none, and then the page falls back to the
// process state alone.

/**
 * @typedef {{label: string, keys: string}} ActivityOption
 * @typedef {{state: "working"|"waiting"|"idle"|"unknown", since: number,
 *   reason: string|null, prompt: string|null, options: ActivityOption[]|null,
 *   decision_id: string|null, detail: string|null, agent_kind: string,
 *   source: string}} Activity
 * @typedef {{agent_id: string, name: string, state: string, exit_code: number|null,
 *   activity?: Activity|null}} AgentLike
 */

const REASON_WORDS = {
  permission: "permission",
  question: "question",
  confirm: "confirm",
  password: "password",
  menu: "menu",
  login: "sign-in",
  other: "input",
};

/** The agent's activity while its process lives (an exited agent waits for nobody).
 * @param {AgentLike} info @returns {Activity | null} */
export function liveActivity(info) {
  const live = info.state === "running" || info.state === "idle";
  const activity = info.activity;
  if (!live || !activity || typeof activity !== "object" || typeof activity.state !== "string") {
    return null;
  }
  return activity;
}

/** @param {AgentLike} info */
export function needsYou(info) {
  return liveActivity(info)?.state === "waiting";
}

/** What the row and the pane call the agent's state: the activity while it runs and
 * reports one ("waiting · permission", "working"), else the process state.
 * @param {AgentLike} info */
export function stateWords(info) {
  if (info.state === "exited") return `exited ${info.exit_code ?? "?"}`;
  const activity = liveActivity(info);
  if (!activity || activity.state === "unknown") return info.state;
  if (activity.state === "waiting") {
    return `waiting · ${REASON_WORDS[activity.reason ?? "other"] ?? activity.reason}`;
  }
  return activity.state;
}

/** The one state a row is counted and filtered under, matching what it shows:
 * "waiting", "working" or "idle" from a live activity; without one, "working" while the
 * process prints (`running`) and "idle" when it went quiet; else "exited" or
 * "disconnected". @param {AgentLike} info */
export function shownState(info) {
  if (info.state === "exited" || info.state === "disconnected") return info.state;
  const activity = liveActivity(info);
  if (activity && activity.state !== "unknown") return activity.state;
  return info.state === "running" ? "working" : "idle";
}

/** The CSS state class of a row or pane: a live agent's activity, else its process
 * state. @param {AgentLike} info */
export function stateClass(info) {
  const activity = liveActivity(info);
  if (activity && activity.state !== "unknown") return `activity-${activity.state}`;
  return `state-${info.state}`;
}

/** One line, as a preview: whitespace (newlines too) collapsed.
 * @param {string} text @param {number} [max] */
export function oneLine(text, max = 300) {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** The preview line the agent itself reports: its question while it waits, else what it
 * does (`detail`). Null when it reports neither (the page shows its last output line).
 * @param {AgentLike} info @returns {string | null} */
export function activityPreview(info) {
  const activity = liveActivity(info);
  if (!activity) return null;
  if (activity.state === "waiting" && activity.prompt) return oneLine(activity.prompt);
  if (activity.detail) return oneLine(activity.detail);
  return null;
}

/** Order for the fleet: agents that need you first (the longest waiting on top), then
 * everyone else by name. @param {AgentLike} a @param {AgentLike} b */
export function compareAgents(a, b) {
  const wa = needsYou(a);
  const wb = needsYou(b);
  if (wa !== wb) return wa ? -1 : 1;
  if (wa && wb) {
    const sa = a.activity?.since ?? 0;
    const sb = b.activity?.since ?? 0;
    if (sa !== sb) return sa - sb;
  }
  const an = (a.name || a.agent_id).toLowerCase();
  const bn = (b.name || b.agent_id).toLowerCase();
  if (an !== bn) return an < bn ? -1 : 1;
  return a.agent_id < b.agent_id ? -1 : a.agent_id > b.agent_id ? 1 : 0;
}

/** "(2) build · agent-sidecar": how many agents need you, then the agent in front.
 * @param {number} waiting @param {string | null} front */
export function tabTitle(waiting, front) {
  const parts = [];
  if (front) parts.push(front);
  parts.push("agent-sidecar");
  const title = parts.join(" · ");
  return waiting > 0 ? `(${waiting}) ${title}` : title;
}

/** A key for "this is the same question": a new one notifies again.
 * @param {AgentLike} info */
function waitKey(info) {
  const activity = liveActivity(info);
  if (activity?.state !== "waiting") return null;
  return `${activity.since}|${activity.decision_id ?? ""}|${activity.prompt ?? ""}`;
}

/**
 * Browser notifications (Notification API) when an agent starts waiting while the
 * page is hidden. Needs the person's permission, asked from a click (browsers refuse
 * to ask otherwise).
 */
export class Notifier {
  /**
   * @param {{onClick: (agentId: string) => void, onChange: () => void}} opts
   *   onClick: the person clicked a notification; onChange: permission changed.
   */
  constructor({ onClick, onChange }) {
    this.onClick = onClick;
    this.onChange = onChange;
    /** @type {Map<string, string>} the waiting key last seen per agent */
    this.seen = new Map();
    /** @type {Map<string, Notification>} */
    this.shown = new Map();
    /** @type {NotificationPermission | null} what the person answered on this page */
    this.answer = null;
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this._closeAll();
    });
    // Changed in the browser's site settings while the page is open.
    navigator.permissions?.query({ name: "notifications" }).then((status) => {
      status.addEventListener("change", () => this.onChange());
    }, () => {});
  }

  get supported() {
    return typeof Notification === "function";
  }

  /** "granted", "denied", "default" or "unsupported". */
  get permission() {
    if (!this.supported) return "unsupported";
    return Notification.permission === "default" && this.answer ? this.answer : Notification.permission;
  }

  async ask() {
    if (this.permission === "default") {
      // The answer, in case the static `permission` lags behind it.
      this.answer = await Notification.requestPermission();
    }
    this.onChange();
  }

  /** Every agent as the page learned it (the first sight never notifies).
   * @param {AgentLike} info @param {{initial?: boolean}} [opts] */
  observe(info, { initial = false } = {}) {
    const key = waitKey(info);
    const before = this.seen.get(info.agent_id) ?? null;
    if (key === null) {
      this.seen.delete(info.agent_id);
      this._close(info.agent_id);
      return;
    }
    this.seen.set(info.agent_id, key);
    if (initial || key === before) return;
    if (document.visibilityState !== "hidden") return;
    this._show(info);
  }

  /** @param {string} agentId */
  forget(agentId) {
    this.seen.delete(agentId);
    this._close(agentId);
  }

  /** @param {AgentLike} info */
  _show(info) {
    if (this.permission !== "granted") return;
    const activity = /** @type {Activity} */ (liveActivity(info));
    const name = info.name || info.agent_id;
    const body = activity.prompt ? oneLine(activity.prompt, 180) : "It is waiting for you.";
    this._close(info.agent_id);
    let notification;
    try {
      notification = new Notification(`${name} needs you`, {
        body, tag: `agent-sidecar:${info.agent_id}`,
      });
    } catch {
      // Chrome on Android shows notifications only through a service worker, which
      // this page does not have; the tab title still counts the waiting agents.
      return;
    }
    notification.addEventListener("click", () => {
      window.focus();
      notification.close();
      this.onClick(info.agent_id);
    });
    this.shown.set(info.agent_id, notification);
  }

  /** @param {string} agentId */
  _close(agentId) {
    this.shown.get(agentId)?.close();
    this.shown.delete(agentId);
  }

  _closeAll() {
    for (const id of [...this.shown.keys()]) this._close(id);
  }
}
