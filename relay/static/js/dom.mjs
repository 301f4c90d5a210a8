// Small DOM helpers. Data only ever reaches the page through textContent and
// attributes set here: no HTML strings anywhere (the page's CSP enforces Trusted
// Types, so an innerHTML assignment would throw).

/**
 * Create an element.
 * @param {string} tag
 * @param {{className?: string, text?: string, title?: string, attrs?: Record<string, string>,
 *          on?: Record<string, EventListener>}} [opts]
 * @param {...(Node|string|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function el(tag, opts = {}, ...children) {
  const node = document.createElement(tag);
  if (opts.className) node.className = opts.className;
  if (opts.text !== undefined) node.textContent = opts.text;
  if (opts.title !== undefined) node.title = opts.title;
  for (const [name, value] of Object.entries(opts.attrs ?? {})) node.setAttribute(name, value);
  for (const [name, handler] of Object.entries(opts.on ?? {})) node.addEventListener(name, handler);
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child); // strings become text nodes
  }
  return node;
}

/** @param {string} id */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing element #${id}`);
  return node;
}

/** Set textContent only when it changed (saves layout work on ticking cells). */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/**
 * "4s", "12m", "3h 05m", "2d 4h".
 * @param {number} ms
 */
export function formatDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** "812 B", "4.2 KB", "12.0 MB". */
export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

/** A shell-like rendering of an argv list, for display only. */
export function formatCommand(argv) {
  if (!Array.isArray(argv)) return "";
  return argv
    .map((a) => (a === "" || /[\s"'\\$`]/.test(a) ? `'${a.replaceAll("'", "'\\''")}'` : a))
    .join(" ");
}
