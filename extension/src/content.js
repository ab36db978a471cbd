// Content script: auto-badges (scanner.js), the panel beside a right-clicked
// image or video frame, and this page's counts for the popup. It never loads
// TF.js; its one pixel work is copying a video's frame (content/frame.js),
// which only this page can see: the extension scores it. It runs in every
// frame, so pictures in embedded posts and galleries get badges too.

import { grabFrame, nextPaint, sampleFrames } from './content/frame.js';
import { Overlay } from './content/overlay.js';
import { Scanner } from './content/scanner.js';
import {
  envelope,
  listen,
  MSG,
  sendToExtension,
  TARGET,
} from './shared/messages.js';
import { scoreImage } from './shared/client.js';
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

// a protected or black frame has nothing to score: the panel says why
const BLACK_FRAME_TEXT =
  'Protected or black frame: this frame reads as black, as DRM-protected ' +
  'players show it to screenshots, so there is no face to check.';

// the last image or video right-clicked: the menu's srcUrl alone is
// ambiguous when a page shows one picture several times
let lastContextImage = null;
let lastContextVideo = null;
document.addEventListener(
  'contextmenu',
  (event) => {
    lastContextImage =
      event.target instanceof HTMLImageElement ? event.target : null;
    lastContextVideo =
      event.target instanceof HTMLVideoElement ? event.target : null;
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

function openOptions() {
  chrome.runtime
    .sendMessage(envelope(MSG.openOptions, TARGET.serviceWorker))
    .catch(() => {});
}

/**
 * Show the panel beside `img` and fill it as answers arrive. `credentials`:
 * 'include' only from the context menu (see shared/client.js).
 */
function openPanel(img, credentials = 'omit') {
  const src = img.currentSrc || img.src;
  runPanel({
    src,
    credentials,
    show: (state, actions) => overlay.showPanel(img, state, actions),
    isCurrent: (state) => overlay.panelFor(img)?.state === state,
    getSettings: () => settings,
    onResult: (result) => scanner.record(img, src, result),
    openOptions,
  });
}

function findVideo(srcUrl) {
  const videos = Array.from(document.querySelectorAll('video'));
  if (lastContextVideo?.isConnected) {
    return lastContextVideo;
  }
  return (
    videos.find(
      (v) => srcUrl && (v.currentSrc === srcUrl || v.src === srcUrl),
    ) ?? (videos.length === 1 ? videos[0] : null)
  );
}

// Chrome refuses a third capture of a tab within a second: wait and try again
const CAPTURE_QUOTA = /MAX_CAPTURE_VISIBLE_TAB_CALLS_PER_SECOND/;
const CAPTURE_RETRY_MS = 1000;
const CAPTURE_ATTEMPTS = 3;

async function captureTab() {
  for (let attempt = 1; ; attempt++) {
    try {
      const { dataUrl } = await sendToExtension(
        MSG.captureTab,
        TARGET.serviceWorker,
      );
      return dataUrl;
    } catch (error) {
      if (!CAPTURE_QUOTA.test(error.message) || attempt >= CAPTURE_ATTEMPTS) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, CAPTURE_RETRY_MS));
    }
  }
}

/**
 * "Check this frame": the panel beside the video, for the frame it shows
 * now, scored like a data: image (in the browser; "Check at full resolution"
 * sends this frame, never the video).
 */
async function checkFrame(video) {
  // an open panel must not end up in a capture of the tab
  overlay.closePanel();
  await nextPaint();
  let frame;
  try {
    frame = await grabFrame(video, captureTab);
  } catch (error) {
    // the panel says why there is no frame to check (not in view, embedded, capture refused)
    frame = { dataUrl: '', black: false, via: 'none', error: error.message };
  }
  video.dataset.dfdFrameVia = frame.via;
  runPanel({
    src: frame.dataUrl,
    show: (state, actions) => overlay.showPanel(video, state, actions),
    isCurrent: (state) => overlay.panelFor(video)?.state === state,
    getSettings: () => settings,
    openOptions,
    blocked: frame.error ?? (frame.black ? BLACK_FRAME_TEXT : ''),
    frame: true,
  });
  return { via: frame.via, black: frame.black };
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

/**
 * "Check 10 frames": a strip of per-frame verdicts beside the video, the most
 * suspicious frame first, filled in as each frame is scored.
 */
async function checkFrames(video) {
  overlay.closePanel();
  await nextPaint();
  const strip = { status: 'sampling', frames: [] };
  const state = { strip };
  let opened = false;
  // redraws the strip while its panel is open; once closed, it stays closed
  const show = () => {
    if (!opened || overlay.panelFor(video)?.state === state) {
      opened = true;
      overlay.showPanel(video, state, { openOptions });
    }
  };
  // the panel says it is sampling, but steps aside for each capture of the tab
  const captureWithoutPanel = async () => {
    const slot = overlay.panelFor(video)?.slot;
    slot?.style.setProperty('visibility', 'hidden');
    await nextPaint();
    try {
      return await captureTab();
    } finally {
      slot?.style.removeProperty('visibility');
    }
  };
  show();
  let frames;
  try {
    frames = await sampleFrames(video, captureWithoutPanel);
  } catch (error) {
    Object.assign(strip, { status: 'failed', error: error.message });
    show();
    return;
  }
  video.dataset.dfdFrameVia = frames[0]?.via ?? 'none';
  strip.status = 'loading';
  strip.frames = frames.map((frame) => ({
    time: frame.time,
    dataUrl: frame.dataUrl,
    status: frame.black ? 'black' : 'loading',
  }));
  show();
  // one at a time: the offscreen document scores one image at a time anyway
  for (const item of strip.frames.filter((f) => f.status === 'loading')) {
    try {
      item.result = await scoreImage(item.dataUrl, { priority: 'high' });
      item.status = 'done';
    } catch (error) {
      Object.assign(item, { status: 'failed', error: error.message });
    }
    show();
  }
  strip.status = 'done';
  show();
}

listen(TARGET.content, {
  [MSG.showPanel]: ({ srcUrl }) => {
    const img = findImage(srcUrl);
    if (!img) {
      throw new Error('the image is not in this page');
    }
    // the menu click is the gesture that earns the site's cookies
    openPanel(img, 'include');
    return { shown: true };
  },
  [MSG.checkFrame]: ({ srcUrl }) => {
    const video = findVideo(srcUrl);
    if (!video) {
      throw new Error('the video is not in this page');
    }
    return checkFrame(video);
  },
  [MSG.checkFrames]: ({ srcUrl }) => {
    const video = findVideo(srcUrl);
    if (!video) {
      throw new Error('the video is not in this page');
    }
    checkFrames(video); // answers at once: sampling a playing video takes seconds
    return { started: true };
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
