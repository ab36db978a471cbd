// Content script: auto-badges (scanner.js), the panel beside a right-clicked
// image, and this page's counts for the popup. It never loads TF.js and does
// no pixel work: the extension fetches and scores the images. It runs in
// every frame, so pictures in embedded posts and galleries get badges too.

import { Overlay } from './content/overlay.js';
import { Scanner } from './content/scanner.js';
import { envelope, listen, MSG, TARGET } from './shared/messages.js';
import { runPanel } from './shared/panel-controller.js';
import {
  badgesOnFor,
  getSettings,
  onSettingsChanged,
} from './shared/settings.js';

// settings whose change alters verdicts already on the page
const VERDICT_SETTINGS = [
  'threshold',
  'uncertainBand',
  'backendUrl',
  'apiToken',
  'neverSendImages',
];

let settings = null;
const overlay = new Overlay({
  onBadgeClick: (img) => openPanel(img),
  isVisible: (img) => scanner.isVisible(img),
});
const scanner = new Scanner({ overlay });

// the last image right-clicked: the menu's srcUrl alone is ambiguous when a
// page shows one picture several times
let lastContextImage = null;
document.addEventListener(
  'contextmenu',
  (event) => {
    lastContextImage =
      event.target instanceof HTMLImageElement ? event.target : null;
  },
  true,
);

/**
 * The site the reader is on: the top page's host, in its frames too, so an
 * embedded post follows the switch of the page that embeds it.
 */
function siteHost() {
  const ancestors = location.ancestorOrigins;
  if (!ancestors?.length) {
    return location.hostname;
  }
  try {
    return (
      new URL(ancestors[ancestors.length - 1]).hostname || location.hostname
    );
  } catch {
    return location.hostname; // a sandboxed frame's ancestors read "null"
  }
}

function findImage(srcUrl) {
  const matches = (img) => img.currentSrc === srcUrl || img.src === srcUrl;
  if (lastContextImage?.isConnected && matches(lastContextImage)) {
    return lastContextImage;
  }
  return Array.from(document.images).find(matches) ?? null;
}

/** Show the panel beside `img` and fill it as answers arrive. */
function openPanel(img) {
  const src = img.currentSrc || img.src;
  runPanel({
    src,
    show: (state, actions) => overlay.showPanel(img, state, actions),
    isCurrent: (state) => overlay.panelFor(img)?.state === state,
    getSettings: () => settings,
    onResult: (result) => scanner.record(img, src, result),
    openOptions: () =>
      chrome.runtime
        .sendMessage(envelope(MSG.openOptions, TARGET.serviceWorker))
        .catch(() => {}),
  });
}

async function applySettings(changed) {
  settings = await getSettings();
  if (badgesOnFor(settings, siteHost())) {
    scanner.start();
  } else {
    scanner.stop();
  }
  if (changed.some((key) => VERDICT_SETTINGS.includes(key))) {
    scanner.rescore();
  }
}

listen(TARGET.content, {
  [MSG.showPanel]: ({ srcUrl }) => {
    const img = findImage(srcUrl);
    if (!img) {
      throw new Error('the image is not in this page');
    }
    openPanel(img);
    return { shown: true };
  },
});

// The popup sums these over the page's frames with chrome.scripting, which
// runs in this extension's isolated world: the page cannot see or call it.
globalThis.dfdPageStats = () => ({
  ...scanner.stats(),
  host: siteHost(),
  badges: scanner.running,
});

onSettingsChanged((changed) => applySettings(changed));
applySettings([]);
