// The fleet list: every agent the token may see, updated live, filterable, keyboard
// navigable, agents that need a person first. Everything an agent reports (name,
// labels, command, output, questions) reaches the DOM as text only.

import {
  activityPreview, compareAgents, liveActivity, needsYou, shownState, stateClass, stateWords,
} from "./attention.mjs";
import { el, formatCommand, formatDuration, setText } from "./dom.mjs";

/** The filter chips, one per state a row can show (see `shownState`): every agent is
 * counted under exactly one. */
const CHIPS = ["waiting", "working", "idle", "exited", "disconnected"];
const CHIP_WORDS = { waiting: "needs you" };
const CHIP_TITLES = {
  waiting: "Show only agents that wait for a person",
  working: "Show only agents that are working (or printing, when they report no activity)",
  idle: "Show only idle agents (at their prompt, or quiet)",
};

/** @param {AgentInfo} info @param {string} chip */
function inChip(info, chip) {
  return shownState(info) === chip;
}

/**
 * AgentInfo as in docs/protocol.md. `state_since` (epoch seconds: when the agent entered
 * its state, as the relay saw it) is this relay's addition beyond the contract; older
 * relays do not send it.
 * @typedef {{agent_id: string, name: string, host: string, command: string[],
 *   labels: Record<string, string>, pid: number|null, cols: number, rows: number,
 *   started_at: number, state: string, exit_code: number|null, last_seen: number,
 *   offset: number, state_since?: number,
 *   activity?: import("./attention.mjs").Activity | null}} AgentInfo
 *
 * @typedef {{info: AgentInfo, stateSince: number, preview: string, row: HTMLElement,
 *   parts: Record<string, HTMLElement>}} Entry
 *   preview: the last output line the page saw (shown when the agent reports no
 *   question or detail of its own)
 */

/** When did an agent enter its current state? The relay's `state_since` when it sends
 * one (capped at `now`: the two clocks may disagree). */
function relayStateSince(info, now) {
  return typeof info.state_since === "number" && info.state_since > 0
    ? Math.min(info.state_since * 1000, now)
    : null;
}

/** Without `state_since` (an older relay): a guess, as far as this page can tell. */
function initialStateSince(info, now) {
  const told = relayStateSince(info, now);
  if (told !== null) return told;
  let since = now;
  if (info.state === "running" && info.started_at > 0) since = info.started_at * 1000;
  if ((info.state === "exited" || info.state === "disconnected") && info.last_seen > 0) {
    since = info.last_seen * 1000;
  }
  return Math.min(since, now);
}

/** When the state the row shows began: the activity's `since` while the agent reports
 * one, else the process state's. @param {Entry} entry @param {number} now */
function shownSince(entry, now) {
  const activity = liveActivity(entry.info);
  if (activity && activity.state !== "unknown" && activity.since > 0) {
    return Math.min(activity.since * 1000, now);
  }
  return entry.stateSince;
}

export class FleetView {
  /**
   * @param {{list: HTMLElement, filter: HTMLInputElement, stateFilters: HTMLElement,
   *   empty: HTMLElement, count: HTMLElement, onOpen: (agentId: string) => void}} opts
   */
  constructor({ list, filter, stateFilters, empty, count, onOpen }) {
    this.list = list;
    this.filterInput = filter;
    this.stateFilters = stateFilters;
    this.empty = empty;
    this.count = count;
    this.onOpen = onOpen;
    /** @type {Map<string, Entry>} */
    this.entries = new Map();
    this.text = "";
    /** @type {string | null} null: every state */
    this.stateFilter = null;
    /** @type {Set<string>} */
    this.openIds = new Set();
    this._buildStateFilters();
    filter.addEventListener("input", () => {
      this.text = filter.value.trim().toLowerCase();
      this._applyFilter();
    });
    filter.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        filter.value = "";
        this.text = "";
        this._applyFilter();
      } else if (e.key === "ArrowDown" || e.key === "Enter") {
        e.preventDefault();
        this._visibleRows()[0]?.focus();
      }
    });
    list.addEventListener("keydown", (e) => this._onListKey(e));
  }

  _buildStateFilters() {
    this.filterButtons = new Map();
    for (const state of CHIPS) {
      const countLabel = el("span", { className: "chip-count" });
      const button = el("button", {
        className: `chip chip-${state}`,
        attrs: { type: "button", "data-state": state, "aria-pressed": "false" },
        title: `${CHIP_TITLES[state] ?? `Show only ${state} agents`} (click again to show all)`,
        on: { click: () => this.setStateFilter(this.stateFilter === state ? null : state) },
      }, el("span", { text: CHIP_WORDS[state] ?? state }), countLabel);
      this.filterButtons.set(state, { button, countLabel });
      this.stateFilters.append(button);
    }
  }

  /** @param {string | null} state */
  setStateFilter(state) {
    this.stateFilter = state;
    for (const [name, { button }] of this.filterButtons) {
      button.setAttribute("aria-pressed", String(name === state));
    }
    this._applyFilter();
  }

  /** Replace the whole list (after `dashboard:connected`). @param {AgentInfo[]} agents */
  setAll(agents) {
    const seen = new Set();
    for (const info of agents) {
      seen.add(info.agent_id);
      this.upsert(info, { batch: true });
    }
    for (const id of [...this.entries.keys()]) {
      if (!seen.has(id)) this.remove(id);
    }
    this._sort();
    this._applyFilter();
  }

  /** @param {AgentInfo} info */
  upsert(info, { batch = false } = {}) {
    const now = Date.now();
    let entry = this.entries.get(info.agent_id);
    if (!entry) {
      entry = this._createEntry(info, now);
      this.entries.set(info.agent_id, entry);
    } else {
      const told = relayStateSince(info, now);
      if (told !== null) entry.stateSince = told;
      else if (entry.info.state !== info.state) entry.stateSince = now;
    }
    entry.info = info;
    this._renderRow(entry, now);
    if (!batch) {
      this._sort(); // an agent that starts or stops waiting moves
      this._applyFilter();
    }
  }

  remove(agentId) {
    const entry = this.entries.get(agentId);
    if (!entry) return;
    entry.row.remove();
    this.entries.delete(agentId);
    this._applyFilter();
  }

  get(agentId) {
    return this.entries.get(agentId)?.info ?? null;
  }

  /** The last output line the page saw for an agent. */
  setPreview(agentId, text) {
    const entry = this.entries.get(agentId);
    if (!entry || entry.preview === text) return;
    entry.preview = text;
    this._renderPreview(entry);
  }

  /** @param {Entry} entry */
  _renderPreview(entry) {
    const own = activityPreview(entry.info);
    const text = own ?? entry.preview;
    setText(entry.parts.preview, text);
    entry.parts.preview.title = text;
    entry.parts.preview.classList.toggle("is-question", own !== null && needsYou(entry.info));
  }

  /** How many agents wait for a person. */
  waitingCount() {
    let n = 0;
    for (const entry of this.entries.values()) if (needsYou(entry.info)) n++;
    return n;
  }

  /** Does the agent's own report give its preview line (no output peeking needed)?
   * @param {string} agentId */
  hasOwnPreview(agentId) {
    const info = this.get(agentId);
    return info !== null && activityPreview(info) !== null;
  }

  setOpen(agentId, open) {
    if (open) this.openIds.add(agentId);
    else this.openIds.delete(agentId);
    this.entries.get(agentId)?.row.classList.toggle("is-open", open);
  }

  /** Agent ids currently shown (filters applied). */
  visibleIds() {
    return [...this.entries.values()].filter((e) => !e.row.hidden).map((e) => e.info.agent_id);
  }

  /** Once a second: the "time in state" cells. */
  tick() {
    const now = Date.now();
    for (const entry of this.entries.values()) {
      setText(entry.parts.since, formatDuration(now - shownSince(entry, now)));
    }
  }

  _createEntry(info, now) {
    const parts = {
      dot: el("span", { className: "state-dot", attrs: { "aria-hidden": "true" } }),
      badge: el("span", { className: "needs-badge", text: "needs you" }),
      name: el("span", { className: "agent-name" }),
      id: el("span", { className: "agent-id" }),
      state: el("span", { className: "agent-state" }),
      since: el("span", { className: "agent-since", title: "time in this state" }),
      host: el("span", { className: "agent-host" }),
      command: el("span", { className: "agent-command" }),
      labels: el("span", { className: "agent-labels" }),
      preview: el("div", { className: "agent-preview" }),
    };
    const row = el("li", {
      className: "agent-row",
      attrs: { tabindex: "0", role: "button", "data-agent-id": info.agent_id },
      on: { click: () => this.onOpen(info.agent_id) },
    },
    el("div", { className: "row-line row-main" }, parts.dot, parts.name, parts.id,
      el("span", { className: "spacer" }), parts.state, parts.since),
    el("div", { className: "row-line row-meta" }, parts.host, parts.command, parts.labels),
    el("div", { className: "row-line row-preview" }, parts.badge, parts.preview));
    return { info, stateSince: initialStateSince(info, now), preview: "", row, parts };
  }

  /** @param {Entry} entry @param {number} now */
  _renderRow(entry, now) {
    const { info, parts, row } = entry;
    const waiting = needsYou(info);
    const shown = stateClass(info);
    row.className = `agent-row state-${info.state} ${shown}${waiting ? " needs-you" : ""}`
      + `${this.openIds.has(info.agent_id) ? " is-open" : ""}`;
    row.setAttribute("aria-label",
      `${info.name || info.agent_id}, ${waiting ? "needs you, " : ""}${stateWords(info)}`);
    parts.dot.className = `state-dot state-${info.state} ${shown}`;
    parts.badge.hidden = !waiting;
    setText(parts.name, info.name || info.agent_id);
    setText(parts.id, info.name && info.name !== info.agent_id ? info.agent_id : "");
    setText(parts.state, stateWords(info));
    const failed = info.state === "exited" && info.exit_code !== 0;
    parts.state.className = `agent-state state-${info.state} ${shown}${failed ? " exit-failed" : ""}`;
    setText(parts.since, formatDuration(now - shownSince(entry, now)));
    parts.since.title = info.state === "exited" && entry.stateSince > 0
      ? `exited at ${new Date(entry.stateSince).toLocaleString()}`
      : "time in this state";
    this._renderPreview(entry);
    setText(parts.host, info.host || "");
    const command = formatCommand(info.command);
    setText(parts.command, command);
    parts.command.title = command;
    const labels = Object.entries(info.labels ?? {});
    parts.labels.replaceChildren(...labels.map(([k, v]) =>
      el("span", { className: "label", text: v === "" ? k : `${k}=${v}`, title: `${k}=${v}` })));
    row.dataset.search = [
      info.agent_id, info.name, info.host, command, ...labels.map(([k, v]) => `${k}=${v}`),
    ].join("\n").toLowerCase();
  }

  _sort() {
    const entries = [...this.entries.values()].sort((a, b) => compareAgents(a.info, b.info));
    // Moving a focused row loses focus; keep it where it is if the order holds.
    const current = [...this.list.children];
    if (entries.every((e, i) => current[i] === e.row)) return;
    const focused = document.activeElement;
    this.list.replaceChildren(...entries.map((e) => e.row));
    if (focused instanceof HTMLElement && this.list.contains(focused)) focused.focus();
  }

  _applyFilter() {
    /** @type {Record<string, number>} */
    const counts = Object.fromEntries(CHIPS.map((s) => [s, 0]));
    let shown = 0;
    for (const entry of this.entries.values()) {
      const textMatch = !this.text || (entry.row.dataset.search ?? "").includes(this.text);
      if (textMatch) {
        for (const chip of CHIPS) if (inChip(entry.info, chip)) counts[chip]++;
      }
      const visible = textMatch && (this.stateFilter === null || inChip(entry.info, this.stateFilter));
      entry.row.hidden = !visible;
      if (visible) shown++;
    }
    for (const [state, { button, countLabel }] of this.filterButtons) {
      setText(countLabel, String(counts[state] ?? 0));
      button.dataset.count = String(counts[state] ?? 0);
    }
    setText(this.count, `${shown} of ${this.entries.size}`);
    this.empty.hidden = shown > 0;
    setText(this.empty, this.entries.size === 0
      ? "No agents yet. Start one with: agent-sidecar run -- <command>"
      : "No agent matches the filter.");
  }

  _visibleRows() {
    return /** @type {HTMLElement[]} */ ([...this.list.children].filter((r) => !(/** @type {HTMLElement} */ (r)).hidden));
  }

  _onListKey(e) {
    const row = /** @type {HTMLElement} */ (e.target).closest?.(".agent-row");
    if (!row) return;
    const rows = this._visibleRows();
    const i = rows.indexOf(row);
    if (e.key === "ArrowDown" || e.key === "j") {
      e.preventDefault();
      rows[Math.min(rows.length - 1, i + 1)]?.focus();
    } else if (e.key === "ArrowUp" || e.key === "k") {
      e.preventDefault();
      if (i <= 0) this.filterInput.focus();
      else rows[i - 1].focus();
    } else if (e.key === "Enter" || e.key === " " || e.key === "o") {
      e.preventDefault();
      this.onOpen(/** @type {string} */ (row.dataset.agentId));
    }
  }
}
