// Runs one panel: asks for the in-browser verdict (high priority), then on request
// for the backend's full-resolution answer or sends "This is wrong" to it,
// redrawing as answers arrive.
// Shared by the content script (panel beside the image) and the result tab.

import { checkFullResolution, reportWrong, scoreImage } from './client.js';
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
 * in-browser answer; openOptions() opens the options. `blocked`, a sentence,
 * says why there is nothing to score (a protected video frame): the panel
 * says it and offers nothing else. `frame`: src is a video frame the
 * extension copied, a file with nothing to declare about the video.
 * `credentials`: 'include' when the context menu opened the panel (the
 * site's cookies, only if the site refuses without them), else 'omit'.
 */
export function runPanel({
  src,
  show,
  isCurrent,
  getSettings,
  onResult,
  openOptions,
  blocked = '',
  frame = false,
  credentials = 'omit',
}) {
  const state = {
    srcUrl: src,
    frame,
    blocked: Boolean(blocked),
    browser: blocked
      ? { status: 'failed', error: blocked }
      : { status: 'loading' },
    server: { status: 'idle' },
    serverUse: serverUseFor(getSettings()),
    // "This is wrong": the form's values live here, so a redraw keeps them
    report: {
      open: false,
      label: '',
      note: '',
      includeImage: false,
      status: 'idle',
    },
  };
  /** The answer the user is looking at: the server's, once asked, else the browser's. */
  const shownResult = () =>
    state.server.status === 'done' ? state.server.result : state.browser.result;
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
    toggleReport: () => {
      state.report.open = !state.report.open;
      redraw();
    },
    sendReport: async () => {
      const { report } = state;
      if (!report.label) {
        Object.assign(report, {
          status: 'failed',
          message: 'Choose what the image really is first.',
        });
        redraw();
        return;
      }
      const shown = shownResult() ?? {};
      Object.assign(report, { status: 'sending', message: '' });
      redraw();
      try {
        const answer = await reportWrong(
          src,
          {
            verdict: shown.verdict ?? 'error',
            score: shown.score,
            modelVersion: shown.model?.version,
            label: report.label,
            note: report.note.trim(),
            includeImage: report.includeImage,
          },
          { credentials },
        );
        Object.assign(report, {
          status: 'sent',
          id: answer.id,
          message: `Thank you: report ${answer.id} went to your server${
            answer.has_image ? ', with the image' : ''
          }.`,
        });
      } catch (error) {
        Object.assign(report, { status: 'failed', message: error.message });
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
  if (blocked) {
    return { state, redraw };
  }
  const started = performance.now();
  scoreImage(src, { priority: 'high', credentials }).then(
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
