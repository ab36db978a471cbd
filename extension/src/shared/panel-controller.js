// Runs one panel: asks for the in-browser verdict (urgent), then on request
// for the backend's full-resolution answer, redrawing as answers arrive.
// Shared by the content script (panel beside the image) and the result tab.

import { checkFullResolution, scoreImage } from './client.js';
import { backendAllowed } from './settings.js';

/** 'ok', 'privacy' (never send images) or 'unset' (no backend). */
export function serverUseFor(settings) {
  if (settings?.neverSendImages) {
    return 'privacy';
  }
  return backendAllowed(settings ?? {}) ? 'ok' : 'unset';
}

/**
 * show(state, actions) draws the panel; isCurrent(state) says whether it is
 * still open; getSettings() gives the settings now; onResult(result) gets the
 * in-browser answer; openOptions() opens the options.
 */
export function runPanel({
  src,
  show,
  isCurrent,
  getSettings,
  onResult,
  openOptions,
}) {
  const state = {
    srcUrl: src,
    browser: { status: 'loading' },
    server: { status: 'idle' },
    serverUse: serverUseFor(getSettings()),
  };
  const actions = {
    fullResolution: async () => {
      state.server = { status: 'loading' };
      redraw();
      try {
        state.server = {
          status: 'done',
          result: await checkFullResolution(src),
        };
      } catch (error) {
        state.server = { status: 'failed', error: error.message };
      }
      redraw();
    },
    openOptions,
  };
  function redraw() {
    if (isCurrent(state)) {
      state.serverUse = serverUseFor(getSettings());
      show(state, actions);
    }
  }
  show(state, actions);
  const started = performance.now();
  scoreImage(src, { urgent: true }).then(
    (result) => {
      state.browser = {
        status: 'done',
        result,
        elapsedMs: performance.now() - started,
      };
      onResult?.(result);
      redraw();
    },
    (error) => {
      state.browser = { status: 'failed', error: error.message };
      redraw();
    },
  );
  return { state, redraw };
}
