// Pure helpers for the output stream: frame parsing, tail buffers, preview lines.

const BINARY_OUTPUT_TAG = 0x01;
const textEncoder = new TextEncoder();

/**
 * Parse a binary output frame (contract section 5): 0x01, len(agent id), agent id,
 * 8-byte big-endian offset, raw bytes.
 * @param {ArrayBuffer} buffer
 * @returns {{agentId: string, offset: number, data: Uint8Array} | null}
 */
export function parseBinaryFrame(buffer) {
  const bytes = new Uint8Array(buffer);
  if (bytes.length < 2 || bytes[0] !== BINARY_OUTPUT_TAG) return null;
  const idLength = bytes[1];
  const header = 2 + idLength + 8;
  if (bytes.length < header) return null;
  let agentId = "";
  for (let i = 2; i < 2 + idLength; i++) agentId += String.fromCharCode(bytes[i]);
  const view = new DataView(buffer, 2 + idLength, 8);
  const offset = Number(view.getBigUint64(0, false));
  return { agentId, offset, data: bytes.subarray(header) };
}

/**
 * The raw bytes of a JSON terminal:output message (UTF-8 text or base64).
 * @param {{data: string, enc?: string}} msg
 * @returns {Uint8Array}
 */
export function jsonOutputBytes(msg) {
  if (msg.enc === "base64") {
    const binary = atob(msg.data);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  }
  return textEncoder.encode(msg.data);
}

/** Keeps the last `capacity` bytes of a stream (for preview lines). */
export class TailBuffer {
  /** @param {number} capacity */
  constructor(capacity = 4096) {
    this.capacity = capacity;
    this.bytes = new Uint8Array(0);
    this.version = 0;
  }

  /** @param {Uint8Array} data */
  push(data) {
    this.version++;
    if (data.length >= this.capacity) {
      this.bytes = data.slice(data.length - this.capacity);
      return;
    }
    const keep = Math.min(this.bytes.length, this.capacity - data.length);
    const next = new Uint8Array(keep + data.length);
    next.set(this.bytes.subarray(this.bytes.length - keep), 0);
    next.set(data, keep);
    this.bytes = next;
  }

  clear() {
    this.bytes = new Uint8Array(0);
    this.version++;
  }
}

// CSI, OSC (BEL or ST terminated), DCS/SOS/PM/APC strings, other two-byte escapes.
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[PX^_][^\x1b]*(?:\x1b\\)?|\x1b[ -/]*[0-~]?/g;
const CURSOR_FORWARD = /\x1b\[([0-9]*)C/g;
// C0 controls other than \n, \r, \t; DEL; C1 controls.
const CONTROLS = /[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f]/g;

/**
 * The last non-blank line a terminal would show for these bytes, as plain text:
 * escape sequences removed, carriage returns overwrite (progress bars), tabs kept.
 * @param {Uint8Array} bytes
 * @param {number} [maxLength]
 */
export function previewLine(bytes, maxLength = 200) {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  // Cursor-forward (CSI n C) is how TUIs such as Claude Code draw spaces: keep them.
  const spaced = text.replace(CURSOR_FORWARD, (_, n) => " ".repeat(Math.min(200, Number(n || 1))));
  const plain = spaced.replace(ESCAPES, "").replace(CONTROLS, "");
  const lines = plain.split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    const segments = lines[i].replace(/\r+$/, "").split("\r");
    const line = segments[segments.length - 1].replace(/\t/g, "  ").trimEnd();
    if (line.trim() !== "") return line.length > maxLength ? line.slice(0, maxLength) + "…" : line;
  }
  return "";
}

/** Terminal query replies xterm.js generates by itself (DA, DSR/CPR, mode and
 * window reports, DCS/OSC answers); never sent while replaying old output. */
export const QUERY_REPLY = /^(?:\x1b\[[?>=]?[0-9;]*[cnRt]|\x1b\[\?[0-9;]*\$y|\x1bP[^\x1b]*\x1b\\|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\))+$/;
