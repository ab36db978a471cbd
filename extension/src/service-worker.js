// The service worker routes messages and owns the context menu. It keeps
// nothing it cannot lose: Chrome stops it when idle, and every answer is
// rebuilt from chrome.storage (settings) and the offscreen document (model,
// cache). Its only global is the promise of an offscreen document being
// created, which is safe to forget.

import {
  envelope,
  listen,
  MSG,
  sendToTab,
  TARGET,
  unwrap,
} from './shared/messages.js';
import { getSettings } from './shared/settings.js';

const OFFSCREEN_PATH = 'offscreen.html';
const RESULT_PATH = 'result.html';
// the context menu's items: one on images, one on videos
const MENU_CHECK = 'dfd-check-image';
const MENU_CHECK_FRAME = 'dfd-check-frame';
const MENU_CHECK_FRAMES = 'dfd-check-frames';
// the offscreen document says it listens well within this (a script of
// 1.4 MB on 2 busy cores); past it, the request fails with a reason
const OFFSCREEN_READY_TIMEOUT_MS = 20000;

// a global promise to avoid concurrency issues while the document is created
let creatingOffscreen;
// callbacks waiting for the offscreen document's "ready" (MSG.offscreenReady)
const readyWaiters = new Set();

/**
 * { ready, cancel }: ready resolves on the offscreen document's next "ready"
 * message and rejects after OFFSCREEN_READY_TIMEOUT_MS; cancel() stops waiting.
 * Start waiting before whatever makes the document announce itself.
 */
function waitForOffscreenReady() {
  let waiter;
  let timer;
  const ready = new Promise((resolve, reject) => {
    waiter = resolve;
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `the offscreen document did not start within ${OFFSCREEN_READY_TIMEOUT_MS / 1000} s`,
          ),
        ),
      OFFSCREEN_READY_TIMEOUT_MS,
    );
  });
  readyWaiters.add(waiter);
  const cancel = () => {
    clearTimeout(timer);
    readyWaiters.delete(waiter);
  };
  ready.then(cancel, cancel);
  return { ready, cancel };
}

function offscreenIsReady() {
  for (const waiter of readyWaiters) {
    waiter();
  }
}

async function hasOffscreenDocument() {
  const contexts = await chrome.runtime.getContexts({
    contextTypes: ['OFFSCREEN_DOCUMENT'],
    documentUrls: [chrome.runtime.getURL(OFFSCREEN_PATH)],
  });
  return contexts.length > 0;
}

/** Create the offscreen document once, however many messages ask at once; resolves once it listens. */
async function ensureOffscreenDocument() {
  if (creatingOffscreen) {
    return creatingOffscreen;
  }
  if (await hasOffscreenDocument()) {
    return undefined;
  }
  creatingOffscreen ??= (async () => {
    const { ready, cancel } = waitForOffscreenReady();
    try {
      await chrome.offscreen.createDocument({
        url: OFFSCREEN_PATH,
        reasons: [chrome.offscreen.Reason.BLOBS],
        justification:
          'Decode image bytes and score them with TensorFlow.js (WebGL/WASM).',
      });
    } catch (error) {
      cancel();
      // a worker restarted mid-creation may find the document already there
      if (!(await hasOffscreenDocument())) {
        throw error;
      }
      return;
    }
    await ready;
  })().finally(() => {
    creatingOffscreen = undefined;
  });
  return creatingOffscreen;
}

/** Pass a request to the offscreen document with the current settings. */
async function toOffscreen(type, data) {
  const settings = await getSettings();
  const message = envelope(type, TARGET.offscreen, { ...data, settings });
  await ensureOffscreenDocument();
  // a document made by a worker Chrome since stopped may still be loading:
  // then it has not answered yet, and says when it listens
  const { ready, cancel } = waitForOffscreenReady();
  try {
    return unwrap(await chrome.runtime.sendMessage(message));
  } catch (error) {
    if (!/receiving end does not exist/i.test(error.message)) {
      throw error;
    }
    await ready;
    return unwrap(await chrome.runtime.sendMessage(message));
  } finally {
    cancel();
  }
}

// what a request may ask for: see scoreImage in shared/client.js
const PRIORITIES = ['high', 'low'];
const CREDENTIALS = ['omit', 'include'];

function imageRequest({
  src,
  dataUrl,
  priority = 'low',
  credentials = 'omit',
}) {
  if (typeof src !== 'string' || !src) {
    throw new Error('no image URL');
  }
  if (!PRIORITIES.includes(priority) || !CREDENTIALS.includes(credentials)) {
    throw new Error(
      `bad request: priority ${priority}, credentials ${credentials}`,
    );
  }
  return { src, dataUrl: dataUrl ?? undefined, priority, credentials };
}

async function createMenus() {
  // an update keeps the old items: start from none, or the id is a duplicate
  await chrome.contextMenus.removeAll();
  chrome.contextMenus.create({
    id: MENU_CHECK,
    title: 'Check for deepfake',
    contexts: ['image'],
  });
  chrome.contextMenus.create({
    id: MENU_CHECK_FRAME,
    title: 'Check this frame',
    contexts: ['video'],
  });
  chrome.contextMenus.create({
    id: MENU_CHECK_FRAMES,
    title: 'Check 10 frames',
    contexts: ['video'],
  });
}

async function openResultTab(srcUrl, tab) {
  const url = new URL(chrome.runtime.getURL(RESULT_PATH));
  url.searchParams.set('src', srcUrl);
  await chrome.tabs.create({
    url: url.href,
    ...(tab?.id >= 0 ? { openerTabId: tab.id, index: tab.index + 1 } : {}),
  });
}

/**
 * "Check for deepfake": the panel beside the image in its page, or, where
 * the page cannot host it (no content script there: browser pages, file:
 * pages, tabs opened before the extension), the result in an extension tab.
 */
async function handleContextMenuClick(info, tab) {
  if (info.menuItemId === MENU_CHECK_FRAME) {
    return checkFrame(info, tab, MSG.checkFrame);
  }
  if (info.menuItemId === MENU_CHECK_FRAMES) {
    return checkFrame(info, tab, MSG.checkFrames);
  }
  if (info.menuItemId !== MENU_CHECK || !info.srcUrl) {
    return 'ignored';
  }
  if (tab?.id >= 0) {
    try {
      await sendToTab(
        tab.id,
        MSG.showPanel,
        { srcUrl: info.srcUrl },
        { frameId: info.frameId ?? 0 },
      );
      return 'panel';
    } catch (error) {
      console.info(`service worker: no panel in this page (${error.message})`);
    }
  }
  await openResultTab(info.srcUrl, tab);
  return 'tab';
}

/**
 * "Check this frame" (or "Check 10 frames"): the content script reads the
 * frame the video shows and scores it in the panel like an image. Only a page with the content script
 * holds the video; elsewhere there is nothing to read.
 */
async function checkFrame(info, tab, type) {
  if (!(tab?.id >= 0)) {
    return 'ignored';
  }
  try {
    await sendToTab(
      tab.id,
      type,
      { srcUrl: info.srcUrl ?? '' },
      { frameId: info.frameId ?? 0 },
    );
    return 'frame-panel';
  } catch (error) {
    console.info(`service worker: no frame check here (${error.message})`);
    return 'unavailable';
  }
}

/**
 * The visible part of the tab that asked, as a PNG data URL: a cross-origin
 * video's frame, which its page may show but not read. Needs activeTab,
 * which the menu click grants for this tab.
 */
async function captureTab(sender) {
  if (!sender.tab) {
    throw new Error('only a page can ask for its capture');
  }
  const dataUrl = await chrome.tabs.captureVisibleTab(sender.tab.windowId, {
    format: 'png',
  });
  return { dataUrl };
}

// reachable from DevTools and the browser tests, which cannot click a native
// context menu: they call the very handler the menu calls
globalThis.handleContextMenuClick = handleContextMenuClick;

/**
 * With auto-badges on, the model loads when the browser (or the extension)
 * starts, not when the first page asks: that page's badges come sooner.
 */
async function warmUp() {
  const settings = await getSettings();
  if (
    settings.autoBadges ||
    Object.values(settings.siteBadges ?? {}).includes(true)
  ) {
    await ensureOffscreenDocument();
  }
}

chrome.runtime.onInstalled.addListener(() =>
  Promise.all([createMenus(), warmUp()]),
);
chrome.runtime.onStartup.addListener(warmUp);
chrome.contextMenus.onClicked.addListener(handleContextMenuClick);

listen(TARGET.serviceWorker, {
  [MSG.scoreImage]: (data) => toOffscreen(MSG.scoreImage, imageRequest(data)),
  // full resolution never with cookies: its heatmaps put pixels into the page
  [MSG.checkFullResolution]: (data) =>
    toOffscreen(
      MSG.checkFullResolution,
      imageRequest({ ...data, priority: 'high', credentials: 'omit' }),
    ),
  [MSG.reportWrong]: (data) =>
    toOffscreen(MSG.reportWrong, {
      ...imageRequest({ ...data, priority: 'high' }),
      report: data.report,
    }),
  [MSG.openOptions]: () => chrome.runtime.openOptionsPage(),
  [MSG.captureTab]: (data, sender) => captureTab(sender),
  [MSG.offscreenReady]: () => offscreenIsReady(),
});
