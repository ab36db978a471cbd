// The one message envelope every context speaks: { type, target, data }.
// Each context listens with `listen(target, handlers)`, which drops messages
// meant for another context, dispatches by type and answers
// { ok: true, data } or { ok: false, error }.

export const TARGET = Object.freeze({
  serviceWorker: 'service-worker',
  offscreen: 'offscreen',
  content: 'content',
});

export const MSG = Object.freeze({
  // content/result page -> service worker -> offscreen: score one image
  scoreImage: 'score-image',
  // content/result page -> service worker -> offscreen: ask the backend
  checkFullResolution: 'check-full-resolution',
  // content/result page -> service worker -> offscreen: "This is wrong" to the backend
  reportWrong: 'report-wrong',
  // service worker -> content: show the panel beside an image
  showPanel: 'show-panel',
  // content -> service worker: open the options page (content scripts cannot)
  openOptions: 'open-options',
  // service worker -> content: score the frame a right-clicked <video> shows
  checkFrame: 'check-frame',
  // service worker -> content: score 10 frames of a right-clicked <video> as a strip
  checkFrames: 'check-frames',
  // content -> service worker: a capture of the visible tab (a cross-origin video's frame)
  captureTab: 'capture-tab',
  // offscreen -> service worker: the offscreen document listens now
  offscreenReady: 'offscreen-ready',
});

/** Build an envelope. */
export function envelope(type, target, data = {}) {
  return { type, target, data };
}

/**
 * Register a chrome.runtime.onMessage listener for one target. `handlers`
 * maps a type to `(data, sender) => value | Promise<value>`; the value goes
 * back as { ok: true, data: value }, a thrown error as { ok: false, error }.
 */
export function listen(target, handlers) {
  const listener = (message, sender, sendResponse) => {
    if (message?.target !== target) {
      return false;
    }
    const handler = handlers[message.type];
    if (!handler) {
      console.warn(`${target}: unknown message type ${message.type}`);
      return false;
    }
    Promise.resolve()
      .then(() => handler(message.data ?? {}, sender))
      .then(
        (data) => sendResponse({ ok: true, data }),
        (error) => sendResponse({ ok: false, error: errorText(error) }),
      );
    return true;
  };
  chrome.runtime.onMessage.addListener(listener);
  return () => chrome.runtime.onMessage.removeListener(listener);
}

export function errorText(error) {
  return error instanceof Error ? error.message : String(error);
}

/** Unwrap a { ok, data, error } answer, throwing its error. */
export function unwrap(answer) {
  if (!answer) {
    throw new Error('no answer');
  }
  if (!answer.ok) {
    throw new Error(answer.error);
  }
  return answer.data;
}

/** Send to the extension (service worker, offscreen) and unwrap the answer. */
export async function sendToExtension(type, target, data) {
  return unwrap(await chrome.runtime.sendMessage(envelope(type, target, data)));
}

/** Send to a tab's content script and unwrap the answer. */
export async function sendToTab(tabId, type, data, options = {}) {
  return unwrap(
    await chrome.tabs.sendMessage(
      tabId,
      envelope(type, TARGET.content, data),
      options,
    ),
  );
}
