// The key bar under a terminal on touch screens: the keys an on-screen keyboard lacks,
// and the ones agents ask for (Esc, Tab, arrows, Enter, Ctrl-C, 1 / 2 / 3, y / n).
// Each press is one `terminal:input`, exactly the bytes a keyboard would send. Pressing
// a key does not take the focus, so an open on-screen keyboard stays open.

import { el } from "./dom.mjs";

/**
 * @typedef {{label: string, name: string, data: string | ((app: boolean) => string)}} Key
 * @type {Key[]}
 */
export const KEYS = [
  { label: "Esc", name: "Escape", data: "\x1b" },
  { label: "Tab", name: "Tab", data: "\t" },
  { label: "←", name: "Left", data: (app) => (app ? "\x1bOD" : "\x1b[D") },
  { label: "↑", name: "Up", data: (app) => (app ? "\x1bOA" : "\x1b[A") },
  { label: "↓", name: "Down", data: (app) => (app ? "\x1bOB" : "\x1b[B") },
  { label: "→", name: "Right", data: (app) => (app ? "\x1bOC" : "\x1b[C") },
  { label: "⏎", name: "Enter", data: "\r" },
  { label: "^C", name: "Ctrl-C", data: "\x03" },
  { label: "1", name: "1", data: "1" },
  { label: "2", name: "2", data: "2" },
  { label: "3", name: "3", data: "3" },
  { label: "y", name: "y", data: "y" },
  { label: "n", name: "n", data: "n" },
];

export class KeyBar {
  /**
   * @param {{send: (data: string) => boolean,
   *   applicationCursor: () => boolean}} opts
   *   send: deliver keystrokes to the agent; applicationCursor: the terminal's DECCKM
   *   mode (arrows are ESC O x instead of ESC [ x while it is set).
   */
  constructor({ send, applicationCursor }) {
    this.element = el("div", {
      className: "keybar", attrs: { role: "toolbar", "aria-label": "Keys for the agent" },
    }, ...KEYS.map((key) => {
      const button = el("button", {
        className: "key", text: key.label,
        attrs: { type: "button", "aria-label": key.name, "data-key": key.name },
      });
      // pointerdown would move the focus to the button (and close an on-screen
      // keyboard): keep it where it is.
      button.addEventListener("pointerdown", (e) => e.preventDefault());
      button.addEventListener("mousedown", (e) => e.preventDefault());
      button.addEventListener("click", () => {
        const data = typeof key.data === "function" ? key.data(applicationCursor()) : key.data;
        if (send(data)) {
          button.classList.remove("sent");
          void button.offsetWidth; // restart the flash
          button.classList.add("sent");
        }
      });
      return button;
    }));
  }
}
