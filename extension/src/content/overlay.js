// Badges and the panel, drawn in one shadow root hung off <html>: nothing is
// inserted among the page's own nodes, nothing takes space in its layout
// (the host is an absolutely positioned 0x0 box), the page's styles cannot
// reach in and ours cannot leak out. Styles go in through CSSOM (adopted
// style sheets, element.style), which a page's CSP does not block.

import { PANEL_CSS, renderPanel } from '../shared/panel-view.js';
import {
  badgeText,
  badgeTitle,
  MARK_TEXT,
  provenanceMark,
} from '../shared/results.js';

// the host's tag: a custom-element name, so it takes a shadow root
const HOST_TAG = 'dfd-overlay';
// badges sit this far inside the image's top-left corner
const BADGE_INSET_PX = 4;
// the panel keeps this gap to the image and to the viewport's edges
const PANEL_GAP_PX = 8;
// what the panel's CSS sets as its width
const PANEL_WIDTH_PX = 320;

const OVERLAY_CSS = `
:host { all: initial; }
.layer { position: absolute; left: 0; top: 0; width: 0; height: 0; }
.badge { position: absolute; left: 0; top: 0; box-sizing: border-box;
  max-width: 240px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
  padding: 1px 7px; border-radius: 9px; font: 600 11px/16px system-ui, sans-serif;
  letter-spacing: 0; color: #fff; background: #37474f; opacity: .93;
  box-shadow: 0 1px 3px rgba(0,0,0,.45); pointer-events: auto; cursor: pointer;
  user-select: none; }
.badge[hidden] { display: none; }
.badge[data-verdict=real] { background: #2e7d32; }
.badge[data-verdict=fake] { background: #c62828; }
.badge[data-verdict=uncertain] { background: #a05a00; }
.badge[data-verdict=no-face] { background: #546e7a; }
.badge[data-verdict=error] { background: #6d4c41; }
.badge .mark { margin-left: 5px; padding: 0 4px; border-radius: 6px;
  background: #fff; color: #6a1b9a; font-size: 10px; }
.panel-slot { position: absolute; left: 0; top: 0; pointer-events: auto; }
.panel-slot[hidden] { display: none; }
${PANEL_CSS}
`;

const HOST_STYLE = {
  all: 'initial',
  position: 'absolute',
  left: '0',
  top: '0',
  width: '0',
  height: '0',
  overflow: 'visible',
  display: 'block',
  'z-index': '2147483647',
  'pointer-events': 'none',
};

export class Overlay {
  constructor({ onBadgeClick, isVisible }) {
    this.onBadgeClick = onBadgeClick;
    this.isVisible = isVisible;
    this.badges = new Map(); // img -> badge element
    this.panel = null; // { img, slot, state, actions }
    this.host = null;
    this.unplaced = new Set(); // images whose badge changed since the last frame
    this.frame = 0;
  }

  /** The host and its shadow root, created on first use, re-hung if removed. */
  ensureHost() {
    if (!this.host) {
      this.host = document.createElement(HOST_TAG);
      for (const [name, value] of Object.entries(HOST_STYLE)) {
        this.host.style.setProperty(name, value, 'important');
      }
      const root = this.host.attachShadow({ mode: 'open' });
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(OVERLAY_CSS);
      root.adoptedStyleSheets = [sheet];
      this.layer = document.createElement('div');
      this.layer.className = 'layer';
      root.append(this.layer);
    }
    if (!this.host.isConnected) {
      document.documentElement.append(this.host);
    }
    return this.layer;
  }

  isOurs(node) {
    return node === this.host;
  }

  setBadge(img, result) {
    const layer = this.ensureHost();
    let badge = this.badges.get(img);
    if (!badge) {
      badge = document.createElement('div');
      badge.className = 'badge';
      badge.setAttribute('role', 'status');
      badge.addEventListener('click', (event) => {
        event.preventDefault();
        event.stopPropagation();
        this.onBadgeClick(img);
      });
      badge.hidden = true; // until its first frame places it
      layer.append(badge);
      this.badges.set(img, badge);
    }
    badge.dataset.verdict = result?.verdict ?? 'scanning';
    badge.dataset.source = result?.source ?? '';
    badge.textContent = badgeText(result);
    // a small mark when the file declares AI or carries Content Credentials
    const mark = provenanceMark(result);
    badge.dataset.provenance = mark;
    if (mark) {
      const span = document.createElement('span');
      span.className = 'mark';
      span.textContent = MARK_TEXT[mark];
      badge.append(span);
    }
    badge.title = badgeTitle(result);
    this.placeNextFrame(img);
  }

  /**
   * Place changed badges once a frame, not as each answer lands: reading an
   * image's rect right after writing a badge's text forces a layout, one per
   * answer on a page of many faces.
   */
  placeNextFrame(img) {
    this.unplaced.add(img);
    this.frame ||= requestAnimationFrame(() => {
      this.frame = 0;
      const imgs = [...this.unplaced].filter((each) => this.badges.has(each));
      this.unplaced.clear();
      this.placeAll(imgs);
    });
  }

  removeBadge(img) {
    this.badges.get(img)?.remove();
    this.badges.delete(img);
  }

  clearBadges() {
    for (const badge of this.badges.values()) {
      badge.remove();
    }
    this.badges.clear();
  }

  /** Where a badge goes over its image's top-left corner; null hides it. Reads layout only. */
  measure(img, origin) {
    const rect = img.getBoundingClientRect();
    const shown =
      img.isConnected &&
      rect.width > 0 &&
      rect.height > 0 &&
      this.isVisible(img);
    return shown
      ? {
          x: rect.left - origin.left,
          y: rect.top - origin.top,
          width: rect.width,
        }
      : null;
  }

  /** Writes only, so a run of them forces no layout. */
  static applyPlace(badge, spot) {
    badge.hidden = !spot;
    if (!spot) {
      return;
    }
    badge.style.maxWidth = `${Math.max(spot.width - 2 * BADGE_INSET_PX, 24)}px`;
    badge.style.transform = `translate(${spot.x + BADGE_INSET_PX}px, ${spot.y + BADGE_INSET_PX}px)`;
  }

  /** Place these images' badges: every read before any write. */
  placeAll(imgs, origin = this.host.getBoundingClientRect()) {
    const spots = imgs.map((img) => [
      this.badges.get(img),
      this.measure(img, origin),
    ]);
    for (const [badge, spot] of spots) {
      Overlay.applyPlace(badge, spot);
    }
  }

  /** Follow layout changes: re-place every badge and the panel. */
  reposition() {
    if (!this.host) {
      return;
    }
    if (!this.host.isConnected) {
      this.ensureHost();
    }
    for (const img of this.badges.keys()) {
      if (!img.isConnected) {
        this.removeBadge(img);
      }
    }
    const origin = this.host.getBoundingClientRect();
    this.placeAll([...this.badges.keys()], origin);
    if (this.panel) {
      this.placePanel(origin);
    }
  }

  /** Show (or redraw) the panel beside `img`. */
  showPanel(img, state, actions) {
    const layer = this.ensureHost();
    if (!this.panel || this.panel.img !== img) {
      this.closePanel();
      const slot = document.createElement('div');
      slot.className = 'panel-slot';
      // keep the page from seeing clicks inside the panel as its own
      for (const type of ['click', 'mousedown', 'pointerdown', 'contextmenu']) {
        slot.addEventListener(type, (event) => event.stopPropagation());
      }
      layer.append(slot);
      this.panel = { img, slot };
    }
    this.panel.state = state;
    renderPanel(this.panel.slot, state, {
      ...actions,
      close: () => this.closePanel(),
    });
    this.placePanel(this.host.getBoundingClientRect());
  }

  panelFor(img) {
    return this.panel?.img === img ? this.panel : null;
  }

  closePanel() {
    this.panel?.slot.remove();
    this.panel = null;
  }

  /** Beside the image (right, else left, else over it), inside the viewport. */
  placePanel(origin) {
    const { img, slot } = this.panel;
    const rect = img.getBoundingClientRect();
    const viewW = document.documentElement.clientWidth;
    const viewH = document.documentElement.clientHeight;
    const height = slot.offsetHeight;
    let left = rect.right + PANEL_GAP_PX;
    if (left + PANEL_WIDTH_PX > viewW - PANEL_GAP_PX) {
      left = rect.left - PANEL_GAP_PX - PANEL_WIDTH_PX;
    }
    if (left < PANEL_GAP_PX) {
      left = Math.max(PANEL_GAP_PX, viewW - PANEL_WIDTH_PX - PANEL_GAP_PX);
    }
    const top = Math.max(
      PANEL_GAP_PX,
      Math.min(rect.top, viewH - height - PANEL_GAP_PX),
    );
    slot.style.transform = `translate(${left - origin.left}px, ${top - origin.top}px)`;
  }
}
