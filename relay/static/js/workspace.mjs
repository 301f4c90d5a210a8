// The terminals a person has open: which ones, which is in front, how they are laid out
// (side by side on a desk, one at a time on a phone), and what each pane carries around
// the terminal itself (the answer bar, search, the key bar, who else is there).
//
// What is open, what is in front and where each terminal was scrolled is kept in the
// tab's sessionStorage (WorkspaceStore), so a reload puts it all back; the agent in
// front is also in the address bar (`#agent=ID`).

import { el, setText } from "./dom.mjs";
import { AnswerBar } from "./answer.mjs";
import { stateClass, stateWords } from "./attention.mjs";
import { KeyBar } from "./keybar.mjs";
import { PresenceLine } from "./presence.mjs";
import { PaneSearch } from "./search.mjs";
import { agentLink } from "./session.mjs";
import { TerminalPane } from "./terminal.mjs";
import { attachTouchScroll } from "./touchscroll.mjs";

/**
 * @typedef {import("./fleet.mjs").AgentInfo} AgentInfo
 * @typedef {{ok: boolean, error?: string}} AckResult
 * @typedef {{pane: TerminalPane, answer: AnswerBar, search: PaneSearch,
 *   presence: PresenceLine, activity: HTMLElement, back: HTMLElement, restoring: boolean,
 *   detach: () => void}} Slot
 */

/** "10:42" today, "3 Dec 10:42" before. @param {number} epochSeconds */
export function clockTime(epochSeconds) {
  const at = new Date(epochSeconds * 1000);
  const time = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (at.toDateString() === new Date().toDateString()) return time;
  return `${at.toLocaleDateString([], { day: "numeric", month: "short" })} ${time}`;
}

/** @param {AgentInfo} info */
function endTime(info) {
  const at = typeof info.state_since === "number" && info.state_since > 0 ? info.state_since : info.last_seen;
  return at > 0 ? clockTime(at) : null;
}

function requestId() {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

export class Workspace {
  /**
   * @param {{panes: HTMLElement, empty: HTMLElement,
   *   subs: import("./connection.mjs").Subscriptions,
   *   send: (msg: object) => boolean,
   *   request: (msg: object) => Promise<AckResult>,
   *   store: import("./session.mjs").WorkspaceStore,
   *   agent: (agentId: string) => AgentInfo | null,
   *   me: () => string | null,
   *   isPhone: () => boolean,
   *   onChange: () => void,
   *   onBack: () => void}} opts
   *   onChange: the set of open panes or the one in front changed;
   *   onBack: the pane's back button (phone) was pressed.
   */
  constructor({ panes, empty, subs, send, request, store, agent, me, isPhone, onChange, onBack }) {
    this.panesEl = panes;
    this.emptyEl = empty;
    this.subs = subs;
    this.send = send;
    this.request = request;
    this.store = store;
    this.agent = agent;
    this.me = me;
    this.isPhone = isPhone;
    this.onChange = onChange;
    this.onBack = onBack;
    /** @type {Map<string, Slot>} */
    this.slots = new Map();
    /** @type {string | null} */
    this.front = null;
    /** @type {string | null} */
    this.maximized = null;
    this.canType = false;
    /** The relay's input rate limit (`dashboard:connected.input_limit`), if it told it. */
    this.inputLimit = null;
    /** On a phone: the front terminal fills the screen (false: the fleet does). */
    this.showingTerminal = false;
    /** Agents that need a person (shown on the back buttons: the list is hidden). */
    this.waiting = 0;
    /** @type {string | null} the agent a link named before the relay knew it */
    this.awaited = null;
  }

  get size() {
    return this.slots.size;
  }

  /** @param {string} agentId */
  has(agentId) {
    return this.slots.has(agentId);
  }

  /** @param {string} agentId */
  pane(agentId) {
    return this.slots.get(agentId)?.pane ?? null;
  }

  panes() {
    return [...this.slots.values()].map((s) => s.pane);
  }

  /** Open (or bring to front) an agent's terminal.
   * @param {string} agentId
   * @param {{focus?: boolean, restore?: boolean}} [opts]
   *   restore: reopened after a reload (scroll back to where it was). */
  open(agentId, { focus = true, restore = false } = {}) {
    if (focus) this.awaited = null; // the person chose another agent meanwhile
    const existing = this.slots.get(agentId);
    if (existing) {
      this.bringToFront(agentId, { focus });
      return existing.pane;
    }
    const info = this.agent(agentId);
    if (!info) return null;
    // On a phone the workspace is hidden while the fleet shows: show it first, so the
    // terminal measures its real size when it opens (a hidden one measures nothing).
    if (focus || this.front === null) {
      this.front = agentId;
      this.showingTerminal = true;
      this._layout();
    }
    const pane = new TerminalPane({
      agent: info,
      subs: this.subs,
      send: this.send,
      request: this.request,
      canType: this.canType,
      inputLimit: this.inputLimit,
      onClose: (p) => this.close(p.agentId),
      onToggleMaximize: (p) => this.toggleMaximize(p.agentId),
    });
    pane.element.classList.toggle("is-front", this.front === agentId);
    const slot = this._decorate(pane, info, restore);
    this.slots.set(agentId, slot);
    this.panesEl.append(pane.element);
    this.store.opened(agentId);
    pane.open();
    this.updateAgent(info);
    this.bringToFront(agentId, { focus });
    this.onChange();
    return pane;
  }

  /** @param {string} agentId */
  close(agentId) {
    const slot = this.slots.get(agentId);
    if (!slot) return;
    slot.detach();
    slot.pane.dispose();
    this.slots.delete(agentId);
    this.store.closed(agentId);
    if (this.maximized === agentId) this.maximized = null;
    if (this.front === agentId) {
      const next = [...this.slots.keys()].pop() ?? null;
      this.front = next;
      this.store.setFront(next);
      if (next === null) this.showingTerminal = false;
    }
    this._layout();
    this.onChange();
  }

  closeAll() {
    for (const id of [...this.slots.keys()]) this.close(id);
  }

  /** @param {string} agentId @param {{focus?: boolean}} [opts] */
  bringToFront(agentId, { focus = true } = {}) {
    const slot = this.slots.get(agentId);
    if (!slot) return;
    const changed = this.front !== agentId || !this.showingTerminal;
    this.front = agentId;
    this.showingTerminal = true;
    this.store.setFront(agentId);
    this._layout();
    if (focus && !slot.search.isOpen) slot.pane.focus();
    if (changed) this.onChange();
  }

  /** Phone: back from the terminal to the fleet (the terminal stays open). */
  showFleet() {
    if (!this.showingTerminal) return;
    this.showingTerminal = false;
    this._layout();
    this.onChange();
  }

  /** @param {string} agentId */
  toggleMaximize(agentId) {
    this.maximized = this.maximized === agentId ? null : agentId;
    this.store.setMaximized(this.maximized);
    this._layout();
  }

  /** The role changed (or became known): panes are built for one role.
   * @param {boolean} canType */
  setCanType(canType) {
    if (this.canType !== canType) this.closeAll();
    this.canType = canType;
  }

  /** The relay's input rate limit, after each `dashboard:connected`: panes pace by it. */
  setInputLimit(limit) {
    this.inputLimit = limit ?? null;
    for (const slot of this.slots.values()) slot.pane.input.setLimit(this.inputLimit);
  }

  /** @param {AgentInfo} info */
  updateAgent(info) {
    const slot = this.slots.get(info.agent_id);
    if (!slot) return;
    slot.pane.updateAgent(info);
    slot.answer.update(info);
    // The process state is in the pane's head already: this says what it adds (what the
    // agent does, when it ended).
    let words = "";
    if (info.state === "exited") {
      const ended = endTime(info);
      words = `${stateWords(info)}${ended ? ` · ended ${ended}` : ""}`;
    } else if (stateClass(info).startsWith("activity-")) {
      words = stateWords(info);
    }
    setText(slot.activity, words);
    slot.activity.className = `pane-activity ${stateClass(info)}`;
    slot.pane.element.classList.toggle("needs-you", stateClass(info) === "activity-waiting");
  }

  /** How many other agents need a person; a phone's back button says so.
   * @param {number} count */
  setWaitingCount(count) {
    this.waiting = count;
    for (const slot of this.slots.values()) this._renderBack(slot.back);
  }

  /** @param {HTMLElement} back */
  _renderBack(back) {
    back.dataset.count = String(this.waiting);
    back.setAttribute("aria-label", this.waiting > 0
      ? `Back to the agents (${this.waiting} ${this.waiting === 1 ? "needs" : "need"} you)`
      : "Back to the agents");
  }

  /** @param {import("./presence.mjs").PresenceMessage} msg */
  onPresence(msg) {
    this.slots.get(msg.agent_id)?.presence.update(msg);
  }

  /** Open what was open before the reload, once the fleet is known.
   * @param {string | null} wanted  the agent the address bar names, if any */
  restore(wanted) {
    const saved = this.store.state;
    for (const id of saved.open) {
      if (this.agent(id)) this.open(id, { focus: false, restore: true });
      else this.store.closed(id);
    }
    if (saved.maximized && this.slots.has(saved.maximized)) {
      this.maximized = saved.maximized;
      this._layout();
    }
    const front = wanted ?? saved.front;
    if (front && this.agent(front)) {
      this.open(front, { focus: true, restore: this.slots.has(front) });
    } else if (this.isPhone()) {
      this.showFleet();
    }
    // A link to an agent that is not (yet) known: open it when it shows up.
    this.awaited = wanted !== null && !this.agent(wanted) ? wanted : null;
  }

  /** An agent became known (or changed): open it if a link was waiting for it.
   * @param {string} agentId */
  arrived(agentId) {
    if (this.awaited !== agentId) return;
    this.awaited = null;
    this.open(agentId);
  }

  // ------------------------------------------------------------------ per pane

  /** Everything around a TerminalPane that is this module's concern.
   * @param {TerminalPane} pane @param {AgentInfo} info @param {boolean} restore
   * @returns {Slot} */
  _decorate(pane, info, restore) {
    const agentId = pane.agentId;
    const head = /** @type {HTMLElement} */ (pane.element.querySelector(".pane-head"));
    const body = /** @type {HTMLElement} */ (pane.element.querySelector(".pane-body"));
    const back = el("button", {
      className: "icon-btn pane-back", text: "‹", attrs: { type: "button", "aria-label": "Back to the agents" },
      title: "Back to the list of agents", on: { click: () => this.onBack() },
    });
    this._renderBack(back);
    const activity = el("span", { className: "pane-activity" });
    const search = new PaneSearch(pane.term, { onClose: () => pane.focus() });
    const searchButton = el("button", {
      className: "icon-btn pane-search-btn", text: "⌕",
      attrs: { type: "button", "aria-label": "Search the scrollback" },
      title: "Search the scrollback (Ctrl+Shift+F)", on: { click: () => search.open() },
    });
    // A real link: it can be copied (long press, right click), dragged or bookmarked;
    // a click copies it.
    const linkButton = el("a", {
      className: "icon-btn pane-link-btn", text: "#",
      attrs: { href: agentLink(agentId), "aria-label": "Link to this agent" },
      title: "Link to this agent (no token in it): click to copy",
      on: { click: (e) => this._copyLink(e, linkButton) },
    });
    head.prepend(back);
    const spacer = head.querySelector(".spacer");
    (spacer ?? head.lastElementChild)?.after(searchButton, linkButton);
    head.querySelector(".pane-badge")?.after(activity);
    head.after(search.element);

    const presence = new PresenceLine({ me: this.me });
    presence.element.classList.add("pane-presence");
    const answer = new AnswerBar({
      agentId, canAnswer: this.canType, send: this.send, request: this.request, requestId,
    });
    body.before(presence.element, answer.element);
    if (this.canType) {
      const keys = new KeyBar({
        send: (data) => pane.input.push(data),
        applicationCursor: () => pane.term.modes.applicationCursorKeysMode,
      });
      body.after(keys.element);
    }

    pane.element.addEventListener("focusin", () => {
      if (this.front !== agentId) this.bringToFront(agentId, { focus: false });
    });
    pane.element.addEventListener("keydown", (e) => {
      if (e.ctrlKey && e.shiftKey && (e.key === "F" || e.key === "f")) {
        e.preventDefault();
        e.stopPropagation();
        search.open();
      }
    }, true);

    // Read-only view of where the terminal is scrolled (tests and debugging).
    Object.defineProperty(pane.element, "scrollPlace", {
      value: () => {
        const buffer = pane.term.buffer.active;
        return { viewportY: buffer.viewportY, baseY: buffer.baseY, length: buffer.length };
      },
    });
    const detach = attachTouchScroll(body, pane.term);
    const slot = { pane, answer, search, presence, activity, back, restoring: restore, detach };
    this._trackScroll(slot);
    return slot;
  }

  /** Remember where the terminal is scrolled; after a reload, go back there once the
   * replayed scrollback is parsed. @param {Slot} slot */
  _trackScroll(slot) {
    const { pane } = slot;
    const term = pane.term;
    const place = () => {
      const buffer = term.buffer.active;
      return { line: buffer.viewportY, bottom: buffer.viewportY >= buffer.baseY };
    };
    term.onScroll(() => {
      if (!slot.restoring) this.store.setScroll(pane.agentId, place());
    });
    if (!slot.restoring) return;
    const saved = this.store.scrollOf(pane.agentId);
    if (!saved || saved.bottom) {
      slot.restoring = false;
      return;
    }
    const listener = term.onWriteParsed(() => {
      if (pane.replayEnd === 0 || pane.parsedOffset < pane.replayEnd || pane.pendingBytes > 0) return;
      listener.dispose();
      term.scrollToLine(Math.min(saved.line, term.buffer.active.baseY));
      slot.restoring = false;
      this.store.setScroll(pane.agentId, place());
      pane.element.dataset.restored = "scroll";
    });
  }

  /** @param {Event} event @param {HTMLElement} link */
  _copyLink(event, link) {
    const href = link.getAttribute("href") ?? "";
    if (!navigator.clipboard) return; // plain http off localhost: let the link work
    event.preventDefault();
    navigator.clipboard.writeText(href).then(() => {
      link.classList.add("copied");
      link.title = `Copied: ${href}`;
    }, () => {
      link.title = `Link to this agent: ${href}`;
    });
  }

  // ------------------------------------------------------------------ layout

  _layout() {
    const count = this.slots.size;
    const phone = this.isPhone();
    this.emptyEl.hidden = count > 0;
    this.panesEl.dataset.count = String(count);
    this.panesEl.classList.toggle("has-maximized", this.maximized !== null);
    for (const [id, slot] of this.slots) {
      slot.pane.element.classList.toggle("is-maximized", id === this.maximized);
      slot.pane.element.classList.toggle("is-front", id === this.front);
    }
    document.body.classList.toggle("phone-terminal", phone && this.showingTerminal && this.front !== null);
  }

  /** The layout depends on the width: call when it crosses the phone breakpoint. */
  relayout() {
    this._layout();
  }
}
