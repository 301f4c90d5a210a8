// Search in a terminal's scrollback (xterm.js's search addon): a small bar with the
// query, "3 of 17", previous / next, every match highlighted and the current one
// marked. Enter finds the next match, Shift+Enter the previous one, Escape closes.

import { SearchAddon } from "@xterm/addon-search";
import { el, setText } from "./dom.mjs";

/** Highlight colours (the addon wants #RRGGBB). */
const DECORATIONS = {
  matchBackground: "#3d3520",
  matchBorder: "#7a5f33",
  matchOverviewRuler: "#e0af68",
  activeMatchBackground: "#7a5f33",
  activeMatchBorder: "#f5c97b",
  activeMatchColorOverviewRuler: "#f5c97b",
};

export class PaneSearch {
  /**
   * @param {import("@xterm/xterm").Terminal} term
   * @param {{onClose: () => void}} opts  onClose: give the focus back (to the terminal)
   */
  constructor(term, { onClose }) {
    this.term = term;
    this.onClose = onClose;
    // Highlighting every match uses decorations, which xterm.js 6 still calls
    // proposed API.
    term.options.allowProposedApi = true;
    this.addon = new SearchAddon({ highlightLimit: 2000 });
    term.loadAddon(this.addon);
    this.count = { index: -1, total: 0 };

    this.input = /** @type {HTMLInputElement} */ (el("input", {
      className: "search-input",
      attrs: {
        type: "search", autocomplete: "off", spellcheck: "false",
        placeholder: "Search the scrollback", "aria-label": "Search the scrollback",
      },
    }));
    this.counter = el("span", { className: "search-count", attrs: { "aria-live": "polite" } });
    this.caseBox = /** @type {HTMLInputElement} */ (el("input", { attrs: { type: "checkbox" } }));
    const button = (text, label, action) => el("button", {
      className: "icon-btn", text, attrs: { type: "button", "aria-label": label }, title: label,
      on: { click: action },
    });
    this.element = el("div", { className: "search-bar", attrs: { role: "search" } },
      this.input, this.counter,
      el("label", { className: "search-case", title: "Match case" }, this.caseBox, el("span", { text: "Aa" })),
      button("↑", "Previous match", () => this.previous()),
      button("↓", "Next match", () => this.next()),
      button("×", "Close search", () => this.close()));
    this.element.hidden = true;

    this.addon.onDidChangeResults(({ resultIndex, resultCount }) => {
      this.count = { index: resultIndex, total: resultCount };
      this._renderCount();
    });
    this.input.addEventListener("input", () => this._incremental());
    this.caseBox.addEventListener("change", () => {
      // The addon keeps its results for the same text: start afresh.
      this.addon.clearDecorations();
      this._incremental();
    });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        if (e.shiftKey) this.previous();
        else this.next();
      } else if (e.key === "Escape") {
        e.preventDefault();
        this.close();
      }
    });
  }

  get isOpen() {
    return !this.element.hidden;
  }

  open() {
    this.element.hidden = false;
    const selection = this.term.getSelection();
    if (selection && !selection.includes("\n") && selection.length <= 200) this.input.value = selection;
    this.input.focus();
    this.input.select();
    if (this.input.value) this._incremental();
  }

  close() {
    this.element.hidden = true;
    this.addon.clearDecorations();
    this.count = { index: -1, total: 0 };
    this._renderCount();
    this.onClose();
  }

  next() {
    if (!this.input.value) return;
    this.addon.findNext(this.input.value, this._options(false));
  }

  previous() {
    if (!this.input.value) return;
    this.addon.findPrevious(this.input.value, this._options(false));
  }

  _incremental() {
    if (!this.input.value) {
      this.addon.clearDecorations();
      this.count = { index: -1, total: 0 };
      this._renderCount();
      return;
    }
    // Search backwards from the end: the newest match first, as a person reading a
    // log expects.
    this.addon.findPrevious(this.input.value, this._options(true));
  }

  /** @param {boolean} incremental */
  _options(incremental) {
    return { caseSensitive: this.caseBox.checked, incremental, decorations: DECORATIONS };
  }

  _renderCount() {
    const { index, total } = this.count;
    this.element.dataset.total = String(total);
    this.element.dataset.index = String(index);
    if (!this.input.value) setText(this.counter, "");
    else if (total === 0) setText(this.counter, "no match");
    else if (index < 0) setText(this.counter, `${total} matches`);
    else setText(this.counter, `${index + 1} of ${total}`);
  }
}
