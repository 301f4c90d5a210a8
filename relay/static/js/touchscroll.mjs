// Touch scrolling through a terminal's scrollback. xterm.js 6 scrolls with the mouse
// wheel but does not follow a finger, so a vertical drag on the terminal moves the
// viewport by whole lines here, and a flick keeps it moving for a moment (inertia).
// Mostly horizontal drags are left alone (the pane scrolls sideways when the agent's
// terminal is wider than the phone).

const FRICTION = 0.95; // velocity kept per animation frame after the finger lifts
const MIN_VELOCITY = 0.02; // px per ms below which inertia stops
const DIRECTION_SLOP = 8; // px a finger moves before the drag counts as vertical or not

/**
 * @param {HTMLElement} surface  where the finger goes (the terminal's host element)
 * @param {import("@xterm/xterm").Terminal} term
 * @returns {() => void} detach
 */
export function attachTouchScroll(surface, term) {
  /** @type {{id: number, x: number, y: number, vertical: boolean | null,
   *   carry: number, lastY: number, lastAt: number, velocity: number} | null} */
  let drag = null;
  let frame = 0;

  const lineHeight = () => {
    const screen = surface.querySelector(".xterm-screen");
    const height = screen instanceof HTMLElement ? screen.clientHeight : 0;
    return height > 0 && term.rows > 0 ? height / term.rows : 16;
  };

  /** Scroll by `px` of finger movement (positive: the finger moved down, so earlier
   * lines come into view); returns the part smaller than a line. */
  const scrollBy = (px) => {
    const h = lineHeight();
    const lines = Math.trunc(px / h);
    if (lines !== 0) term.scrollLines(-lines);
    return px - lines * h;
  };

  const stopInertia = () => {
    if (frame) window.cancelAnimationFrame(frame);
    frame = 0;
  };

  const onStart = (/** @type {TouchEvent} */ e) => {
    stopInertia();
    if (e.touches.length !== 1) {
      drag = null;
      return;
    }
    const t = e.touches[0];
    drag = {
      id: t.identifier, x: t.clientX, y: t.clientY, vertical: null,
      carry: 0, lastY: t.clientY, lastAt: e.timeStamp, velocity: 0,
    };
  };

  const onMove = (/** @type {TouchEvent} */ e) => {
    if (!drag) return;
    const t = [...e.touches].find((touch) => touch.identifier === drag?.id);
    if (!t) return;
    if (drag.vertical === null) {
      const dx = Math.abs(t.clientX - drag.x);
      const dy = Math.abs(t.clientY - drag.y);
      if (Math.max(dx, dy) < DIRECTION_SLOP) return;
      drag.vertical = dy >= dx;
    }
    if (!drag.vertical) return;
    e.preventDefault(); // the page itself must not move
    const moved = t.clientY - drag.lastY;
    const dt = Math.max(1, e.timeStamp - drag.lastAt);
    drag.velocity = 0.8 * (moved / dt) + 0.2 * drag.velocity;
    drag.carry = scrollBy(drag.carry + moved);
    drag.lastY = t.clientY;
    drag.lastAt = e.timeStamp;
  };

  const onEnd = () => {
    if (!drag?.vertical) {
      drag = null;
      return;
    }
    let velocity = drag.velocity;
    let carry = drag.carry;
    let last = performance.now();
    drag = null;
    const step = (/** @type {number} */ now) => {
      const dt = now - last;
      last = now;
      carry = scrollBy(carry + velocity * dt);
      velocity *= FRICTION;
      frame = Math.abs(velocity) > MIN_VELOCITY ? window.requestAnimationFrame(step) : 0;
    };
    if (Math.abs(velocity) > MIN_VELOCITY) frame = window.requestAnimationFrame(step);
  };

  surface.addEventListener("touchstart", onStart, { passive: true });
  surface.addEventListener("touchmove", onMove, { passive: false });
  surface.addEventListener("touchend", onEnd, { passive: true });
  surface.addEventListener("touchcancel", onEnd, { passive: true });
  return () => {
    stopInertia();
    surface.removeEventListener("touchstart", onStart);
    surface.removeEventListener("touchmove", onMove);
    surface.removeEventListener("touchend", onEnd);
    surface.removeEventListener("touchcancel", onEnd);
  };
}
