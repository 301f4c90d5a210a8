// Who else watches an agent and who types into it (the relay's `agent:presence`, a 1.1
// addition described in docs/protocol.md), shown in the terminal pane's head so two
// operators do not fight over one agent without knowing. Names are the tokens' `sub`.

import { el } from "./dom.mjs";

/** A watcher counts as typing this long after the relay said so, unless told again. */
export const TYPING_MS = 5_000;

/**
 * @typedef {{sub: string, role: string, connections: number, typing?: boolean,
 *   last_input?: string|null, last_input_at?: number|null}} Watcher
 * @typedef {{agent_id: string, watchers: Watcher[], more?: number}} PresenceMessage
 */

export class PresenceLine {
  /** @param {{me: () => string | null}} opts  me: this page's own `sub` */
  constructor({ me }) {
    this.me = me;
    this.element = el("span", { className: "presence", attrs: { "aria-live": "polite" } });
    this.element.hidden = true;
    /** @type {PresenceMessage | null} */
    this.last = null;
    this.receivedAt = 0;
    this.timer = 0;
  }

  /** @param {PresenceMessage} msg */
  update(msg) {
    this.last = msg;
    this.receivedAt = Date.now();
    this._render();
    window.clearTimeout(this.timer);
    if ((msg.watchers ?? []).some((w) => w.typing)) {
      this.timer = window.setTimeout(() => this._render(), TYPING_MS + 50);
    }
  }

  clear() {
    this.last = null;
    window.clearTimeout(this.timer);
    this._render();
  }

  _render() {
    const msg = this.last;
    const me = this.me();
    const fresh = Date.now() - this.receivedAt < TYPING_MS;
    const watchers = Array.isArray(msg?.watchers) ? msg.watchers : [];
    const others = [];
    const typing = [];
    let myTabs = 0;
    for (const w of watchers) {
      if (typeof w?.sub !== "string") continue;
      const isTyping = w.typing === true && fresh;
      if (w.sub === me) {
        myTabs = w.connections;
        continue;
      }
      others.push(w.sub);
      if (isTyping) typing.push(w.sub);
    }
    const more = Number(msg?.more ?? 0);
    const parts = [];
    if (others.length > 0) {
      parts.push(`also watching: ${others.join(", ")}${more > 0 ? ` +${more}` : ""}`);
    }
    if (myTabs > 1) parts.push(`you in ${myTabs} tabs`);
    this.element.hidden = parts.length === 0 && typing.length === 0;
    this.element.classList.toggle("someone-typing", typing.length > 0);
    this.element.replaceChildren();
    if (typing.length > 0) {
      this.element.append(el("span", {
        className: "presence-typing", text: `${typing.join(", ")} typing`,
      }));
    }
    if (parts.length > 0) this.element.append(el("span", { text: parts.join(" · ") }));
    this.element.title = watchers
      .map((w) => `${w.sub} (${w.role}${w.connections > 1 ? `, ${w.connections} tabs` : ""})`)
      .join("\n");
  }
}
