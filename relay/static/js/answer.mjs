// The answer bar of a terminal pane: while the agent waits for a person it shows the
// question and the ways to answer it from here.
//
// - A permission request the sidecar holds open (`decision_id`): Allow / Deny with an
//   optional message, sent as `permission:decide` bound to that exact request. The
//   first answer wins anywhere; a late one comes back `stale_decision`.
// - Choices found on the screen (`options`): one button each, sending its keys as
//   `terminal:input`, as if typed.
// Viewers see the question without the buttons.

import { el, setText } from "./dom.mjs";
import { liveActivity } from "./attention.mjs";

const REASON_TITLES = {
  permission: "Permission requested",
  question: "Question",
  confirm: "Confirmation",
  password: "Password requested",
  menu: "Choose an option",
  login: "Sign-in required",
  other: "Waiting for input",
};

/**
 * @typedef {import("./attention.mjs").Activity} Activity
 * @typedef {{ok: boolean, error?: string}} AckResult
 */

/** A short visible form of keystrokes: "1", "Enter", "↓ ↓ Enter". @param {string} keys */
export function keysLabel(keys) {
  const names = { "\r": "Enter", "\n": "Enter", "\x1b": "Esc", "\t": "Tab", "\x03": "Ctrl-C", " ": "Space" };
  const arrows = { "\x1b[A": "↑", "\x1b[B": "↓", "\x1b[C": "→", "\x1b[D": "←", "\x1bOA": "↑", "\x1bOB": "↓", "\x1bOC": "→", "\x1bOD": "←" };
  const out = [];
  for (let i = 0; i < keys.length;) {
    const three = keys.slice(i, i + 3);
    if (arrows[three]) { out.push(arrows[three]); i += 3; continue; }
    const ch = keys[i];
    out.push(names[ch] ?? (ch < " " ? `^${String.fromCharCode(ch.charCodeAt(0) + 64)}` : ch));
    i += 1;
  }
  return out.join(" ");
}

export class AnswerBar {
  /**
   * @param {{agentId: string, canAnswer: boolean,
   *   send: (msg: object) => boolean,
   *   request: (msg: object) => Promise<AckResult>,
   *   requestId: () => string}} opts
   */
  constructor({ agentId, canAnswer, send, request, requestId }) {
    this.agentId = agentId;
    this.canAnswer = canAnswer;
    this.send = send;
    this.request = request;
    this.requestId = requestId;
    /** The wait this bar shows (a new one resets the result line). */
    this.key = "";

    this.title = el("span", { className: "answer-title" });
    this.prompt = el("div", { className: "answer-prompt" });
    this.actions = el("div", { className: "answer-actions" });
    this.result = el("span", { className: "answer-result", attrs: { role: "status", "aria-live": "polite" } });
    this.element = el("div", {
      className: "answer", attrs: { role: "region", "aria-label": "The agent is waiting for you" },
    }, el("div", { className: "answer-head" },
      el("span", { className: "answer-badge", text: "needs you" }), this.title),
    this.prompt, this.actions);
    this.element.hidden = true;
  }

  /** @param {{state: string, activity?: Activity | null}} info */
  update(info) {
    const activity = liveActivity(/** @type {any} */ (info));
    if (activity?.state !== "waiting") {
      this.element.hidden = true;
      this.key = "";
      return;
    }
    const key = JSON.stringify([activity.since, activity.reason, activity.prompt,
      activity.decision_id, activity.options]);
    this.element.hidden = false;
    if (key === this.key) return;
    this.key = key;
    const reason = activity.reason ?? "other";
    this.element.dataset.reason = reason;
    setText(this.title, REASON_TITLES[reason] ?? REASON_TITLES.other);
    setText(this.prompt, activity.prompt ?? "");
    this.prompt.hidden = !activity.prompt;
    setText(this.result, "");
    this.result.className = "answer-result";
    this.actions.replaceChildren(...this._buildActions(activity));
  }

  /** @param {Activity} activity */
  _buildActions(activity) {
    if (!this.canAnswer) {
      return [el("span", { className: "answer-hint", text: "Read-only: an operator can answer." })];
    }
    const nodes = [];
    if (activity.decision_id) nodes.push(...this._decisionControls(activity.decision_id));
    if (Array.isArray(activity.options) && activity.options.length > 0) {
      const options = activity.options.filter((o) => o && typeof o.keys === "string" && o.keys);
      nodes.push(el("div", { className: "answer-options", attrs: { role: "group", "aria-label": "Options" } },
        ...options.map((option) => el("button", {
          className: "btn answer-option",
          attrs: { type: "button", "data-keys": option.keys },
          title: `Sends ${keysLabel(option.keys)}`,
          on: { click: () => this._choose(option) },
        }, el("span", { text: String(option.label ?? "") }),
        el("kbd", { text: keysLabel(option.keys) })))));
    }
    nodes.push(this.result);
    return nodes;
  }

  /** @param {string} decisionId */
  _decisionControls(decisionId) {
    const message = el("input", {
      className: "answer-message",
      attrs: {
        type: "text", autocomplete: "off", spellcheck: "false",
        placeholder: "Message to the agent (optional)", "aria-label": "Message with the decision",
      },
    });
    const allow = el("button", {
      className: "btn btn-allow", text: "Allow", attrs: { type: "button" },
      title: "Allow this request (only this one)",
    });
    const deny = el("button", {
      className: "btn btn-deny", text: "Deny", attrs: { type: "button" },
      title: "Deny this request; the message, if any, tells the agent why",
    });
    const decide = async (decision) => {
      allow.disabled = true;
      deny.disabled = true;
      this._showResult("pending", `${decision === "allow" ? "allowing" : "denying"}…`);
      /** @type {Record<string, unknown>} */
      const msg = {
        type: "permission:decide", agent_id: this.agentId, request_id: this.requestId(),
        decision_id: decisionId, decision,
      };
      const text = /** @type {HTMLInputElement} */ (message).value.trim();
      if (text) msg.message = text;
      const { ok, error } = await this.request(msg);
      if (ok) {
        this._showResult("ok", decision === "allow" ? "allowed ✓" : "denied ✓");
        return;
      }
      const stale = (error ?? "").startsWith("stale_decision");
      this._showResult("error", stale
        ? "already answered (here, in another dashboard or in the terminal)"
        : `not sent: ${error ?? "unknown error"}`);
      if (!stale) {
        allow.disabled = false;
        deny.disabled = false;
      }
    };
    allow.addEventListener("click", () => decide("allow"));
    deny.addEventListener("click", () => decide("deny"));
    return [el("div", { className: "answer-decision" }, allow, deny, message)];
  }

  /** @param {{label: string, keys: string}} option */
  _choose(option) {
    const sent = this.send({ type: "terminal:input", agent_id: this.agentId, data: option.keys });
    this._showResult(sent ? "ok" : "error", sent ? `sent “${option.label}”` : "not connected to the relay");
  }

  /** @param {"pending"|"ok"|"error"} kind @param {string} text */
  _showResult(kind, text) {
    this.result.className = `answer-result answer-${kind}`;
    setText(this.result, text);
  }
}
