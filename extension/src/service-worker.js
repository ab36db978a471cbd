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
// the context menu's one item, on images only
const MENU_CHECK = 'dfd-check-image';
// an offscreen document still loading its script does not answer yet: tries, and the pause between
const OFFSCREEN_ATTEMPTS = 5;
const OFFSCREEN_RETRY_MS = 200;

// a global promise to avoid concurrency issues while the document is created
let creatingOffscreen;

async function hasOffscreenDocument() {
  const contexts = await chrome.runtime.getContexts({
    contextTypes: ['OFFSCREEN_DOCUMENT'],
    documentUrls: [chrome.runtime.getURL(OFFSCREEN_PATH)],
  });
  return contexts.length > 0;
}

/** Create the offscreen document once, however many messages ask at once. */
async function ensureOffscreenDocument() {
  const exists = await hasOffscreenDocument();
  // a document being created is listed before it listens: wait for it too
  if (!creatingOffscreen && exists) {
    return;
  }
  creatingOffscreen ??= chrome.offscreen
    .createDocument({
      url: OFFSCREEN_PATH,
      reasons: [chrome.offscreen.Reason.BLOBS],
      justification:
        'Decode image bytes and score them with TensorFlow.js (WebGL/WASM).',
    })
    .catch(async (error) => {
      // a worker restarted mid-creation may find the document already there
      if (!(await hasOffscreenDocument())) {
        throw error;
      }
    })
    .finally(() => {
      creatingOffscreen = undefined;
    });
  await creatingOffscreen;
}

/** Pass a request to the offscreen document with the current settings. */
async function toOffscreen(type, data) {
  const settings = await getSettings();
  const message = envelope(type, TARGET.offscreen, { ...data, settings });
  for (let attempt = 1; ; attempt += 1) {
    await ensureOffscreenDocument();
    try {
      return unwrap(await chrome.runtime.sendMessage(message));
    } catch (error) {
      // a document made by a worker Chrome since stopped may still be loading
      if (
        !/receiving end does not exist/i.test(error.message) ||
        attempt >= OFFSCREEN_ATTEMPTS
      ) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, OFFSCREEN_RETRY_MS));
    }
  }
}

function imageRequest({ src, dataUrl, urgent }) {
  if (typeof src !== 'string' || !src) {
    throw new Error('no image URL');
  }
  return { src, dataUrl: dataUrl ?? undefined, urgent: Boolean(urgent) };
}

async function createMenus() {
  // an update keeps the old items: start from none, or the id is a duplicate
  await chrome.contextMenus.removeAll();
  chrome.contextMenus.create({
    id: MENU_CHECK,
    title: 'Check for deepfake',
    contexts: ['image'],
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

// reachable from DevTools and the browser tests, which cannot click a native
// context menu: they call the very handler the menu calls
globalThis.handleContextMenuClick = handleContextMenuClick;

chrome.runtime.onInstalled.addListener(createMenus);
chrome.contextMenus.onClicked.addListener(handleContextMenuClick);

listen(TARGET.serviceWorker, {
  [MSG.scoreImage]: (data) => toOffscreen(MSG.scoreImage, imageRequest(data)),
  [MSG.checkFullResolution]: (data) =>
    toOffscreen(MSG.checkFullResolution, imageRequest(data)),
  [MSG.reportWrong]: (data) =>
    toOffscreen(MSG.reportWrong, {
      ...imageRequest({ ...data, urgent: true }),
      report: data.report,
    }),
  [MSG.openOptions]: () => chrome.runtime.openOptionsPage(),
});
