// The page's size on phones: one column below PHONE_WIDTH, and a height taken from the
// visual viewport, so an on-screen keyboard shrinks the page instead of covering the
// terminal's input and key bar.
//
// Browsers differ: some shrink the layout viewport when the keyboard opens (Chrome on
// Android with `interactive-widget=resizes-content`), others only the visual viewport
// (Safari). `--app-height` / `--app-top` follow the visual viewport either way; CSS
// sizes the body with them.

export const PHONE_QUERY = "(max-width: 700px)";

export class Viewport {
  /** @param {{onPhoneChange: (phone: boolean) => void}} opts */
  constructor({ onPhoneChange }) {
    this.onPhoneChange = onPhoneChange;
    this.media = window.matchMedia(PHONE_QUERY);
    this.phone = this.media.matches;
    this.frame = 0;
    this.media.addEventListener("change", () => {
      this.phone = this.media.matches;
      document.body.classList.toggle("phone", this.phone);
      this.onPhoneChange(this.phone);
    });
    document.body.classList.toggle("phone", this.phone);
    const vv = window.visualViewport;
    if (vv) {
      vv.addEventListener("resize", () => this._schedule());
      vv.addEventListener("scroll", () => this._schedule());
    }
    window.addEventListener("resize", () => this._schedule());
    this._apply();
  }

  _schedule() {
    if (this.frame) return;
    this.frame = window.requestAnimationFrame(() => {
      this.frame = 0;
      this._apply();
    });
  }

  _apply() {
    const vv = window.visualViewport;
    const root = document.documentElement.style;
    // Zoomed in (pinch), the visual viewport is a window onto the page, not a smaller
    // page: only an unzoomed visual viewport sizes the layout.
    if (!vv || Math.abs(vv.scale - 1) > 0.01) {
      root.removeProperty("--app-height");
      root.removeProperty("--app-top");
      return;
    }
    root.setProperty("--app-height", `${Math.round(vv.height)}px`);
    root.setProperty("--app-top", `${Math.round(vv.offsetTop)}px`);
    // Keep what is being typed into in sight.
    const active = document.activeElement;
    if (active instanceof HTMLElement && active !== document.body && this.phone) {
      const rect = active.getBoundingClientRect();
      if (rect.bottom > vv.height) active.scrollIntoView({ block: "nearest" });
    }
  }
}
