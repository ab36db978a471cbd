// The result panel: what "Check for deepfake" shows, beside the image in its
// page (inside the content script's shadow root) or in the result tab.
// Pure DOM: `renderPanel(container, state, actions)` redraws it from state.
//
// state: { srcUrl,
//          browser: { status: 'loading'|'done'|'failed', result?, error?, elapsedMs? },
//          server: { status: 'idle'|'loading'|'done'|'failed', result?, error? },
//          serverUse: 'ok'|'privacy'|'unset' }
//          report: { open, label, note, includeImage, status: 'idle'|'sending'|'sent'|'failed', message?, id? } }
// actions: { fullResolution(), toggleReport(), sendReport(), close()?, openOptions() }
// "Check 10 frames" draws a strip instead: state: { strip: { status:
// 'sampling'|'loading'|'done'|'failed', error?, frames: [{ time, dataUrl,
// status: 'loading'|'done'|'failed'|'black', result?, error? }] } }

import {
  badgeText,
  DECLARED_AI_TEXT,
  fallbackReasonText,
  imageSearchLinks,
  modelText,
  percent,
  provenanceLines,
} from './results.js';

export const PANEL_CSS = `
.panel { box-sizing: border-box; width: 320px; max-height: 80vh; overflow: auto;
  padding: 12px; border-radius: 10px; background: #fff; color: #1b1b1f;
  box-shadow: 0 6px 24px rgba(0,0,0,.28); font: 13px/1.45 system-ui, sans-serif;
  text-align: left; pointer-events: auto; }
.panel * { box-sizing: border-box; }
.head { display: flex; align-items: center; justify-content: space-between;
  margin-bottom: 8px; font-weight: 600; }
.close { border: 0; background: none; font: inherit; font-size: 18px;
  line-height: 1; cursor: pointer; color: #555; padding: 0 4px; }
.answer { border-top: 1px solid #e3e3e8; padding-top: 8px; margin-top: 8px; }
.verdict { font-size: 18px; font-weight: 700; }
.verdict[data-verdict=fake] { color: #c62828; }
.verdict[data-verdict=real] { color: #2e7d32; }
.verdict[data-verdict=uncertain] { color: #a05a00; }
.verdict[data-verdict=no-face], .verdict[data-verdict=error] { color: #455a64; }
.muted { color: #5f6368; font-size: 12px; }
.warn { color: #a05a00; font-size: 12px; }
.figure { position: relative; margin: 8px 0; line-height: 0; }
.figure img.photo { width: 100%; height: auto; display: block; border-radius: 4px; }
.box { position: absolute; border: 2px solid #fff; outline: 1px solid rgba(0,0,0,.6); }
.box[data-verdict=fake] { border-color: #e53935; }
.box[data-verdict=real] { border-color: #43a047; }
.box[data-verdict=uncertain] { border-color: #fb8c00; }
.box img.heatmap { width: 100%; height: 100%; opacity: .55; display: block; }
.faces { margin: 4px 0 0; padding-left: 18px; }
button.full { margin-top: 10px; width: 100%; padding: 7px; border: 0; border-radius: 6px;
  background: #1a73e8; color: #fff; font: inherit; font-weight: 600; cursor: pointer; }
button.full:disabled { background: #c5c8ce; cursor: default; }
a { color: #1a73e8; cursor: pointer; }
.declared { font-size: 18px; font-weight: 700; color: #6a1b9a; }
.declared + .verdict { font-size: 13px; }
.provenance h4, .search h4 { margin: 8px 0 2px; font-size: 13px; }
.provenance ul { margin: 0; padding-left: 18px; }
.provenance li[data-kind=problem] { color: #a05a00; }
.provenance li[data-kind=note] { list-style: none; margin-left: -18px; color: #5f6368; font-size: 12px; }
.search a { margin-right: 8px; }
button.report { margin-top: 8px; width: 100%; padding: 6px; border: 1px solid #c5c8ce;
  border-radius: 6px; background: #fff; color: #1b1b1f; font: inherit; cursor: pointer; }
button.report:disabled { color: #80868b; cursor: default; }
.report-form { margin-top: 6px; }
.report-form fieldset { border: 0; margin: 0; padding: 0; }
.report-form label { display: block; margin: 2px 0; }
.report-form textarea { width: 100%; font: inherit; }
.report-form button.send { margin-top: 6px; padding: 5px 10px; border: 0; border-radius: 6px;
  background: #1a73e8; color: #fff; font: inherit; cursor: pointer; }
.report-form button.send:disabled { background: #c5c8ce; cursor: default; }
.strip { list-style: none; margin: 8px 0 0; padding: 0; display: grid;
  grid-template-columns: 1fr 1fr; gap: 8px; }
.strip li { font-size: 12px; line-height: 1.3; }
.strip img { width: 100%; height: auto; display: block; border-radius: 4px;
  border: 3px solid #c5c8ce; }
.strip li[data-verdict=fake] img { border-color: #e53935; }
.strip li[data-verdict=real] img { border-color: #43a047; }
.strip li[data-verdict=uncertain] img { border-color: #fb8c00; }
`;

const REPORT_LABELS = [
  ['real', 'It is real'],
  ['fake', 'It is fake'],
  ['no_face', 'Not a face'],
  ['other', 'Other'],
];
// the server keeps notes up to this long (backend/reports.py)
const MAX_NOTE_CHARS = 2000;
let panelCount = 0; // radio groups need a name of their own per panel

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) {
      continue;
    }
    if (key === 'class') {
      node.className = value;
    } else if (key === 'style') {
      // CSSOM, not the style attribute: a page's CSP may forbid the latter
      node.style.cssText = value;
    } else if (key === 'text') {
      node.textContent = value;
    } else if (key.startsWith('on')) {
      node.addEventListener(key.slice(2), value);
    } else {
      node.setAttribute(key, String(value));
    }
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

const VERDICT_WORDS = {
  fake: 'Fake',
  real: 'Real',
  uncertain: 'Uncertain',
  'no-face': 'No face found',
  error: 'Could not check',
};

function figure(srcUrl, result) {
  const { width, height } = result.image ?? {};
  if (!width || !height || !result.faces?.length) {
    return null;
  }
  const boxes = result.faces.map((face, i) => {
    const [x, y, w, h] = face.box;
    const style =
      `left:${(100 * x) / width}%;top:${(100 * y) / height}%;` +
      `width:${(100 * w) / width}%;height:${(100 * h) / height}%`;
    return el(
      'div',
      {
        class: 'box',
        style,
        'data-verdict': face.verdict,
        title: `Face ${i + 1}`,
      },
      face.heatmap
        ? el('img', { class: 'heatmap', src: face.heatmap, alt: '' })
        : null,
    );
  });
  return el(
    'div',
    { class: 'figure' },
    el('img', { class: 'photo', src: srcUrl, alt: '' }),
    ...boxes,
  );
}

function sourceLine(result, elapsedMs) {
  if (result.source === 'server') {
    const ms = result.elapsedMs ?? null;
    return `Answer from the server (${modelText(result.model)}${
      ms === null ? '' : `, ${Math.round(ms)} ms`
    }).`;
  }
  const ms = elapsedMs ?? result.timings?.totalMs;
  // workers and threads say how the scoring was spread across cores
  const workers = result.tfWorkers > 1 ? ` in ${result.tfWorkers} workers` : '';
  const each = workers ? ' each' : '';
  const threads =
    result.tfThreads > 1 ? ` on ${result.tfThreads} threads${each}` : '';
  return `Scored in this browser (${modelText(result.model)}${
    result.tfBackend ? `, ${result.tfBackend}${workers}${threads}` : ''
  }${ms === undefined ? '' : `, ${Math.round(ms)} ms`}).`;
}

/** "What the file says": one line per thing the file declares. */
function provenanceSection(provenance) {
  if (!provenance) {
    return null;
  }
  return el(
    'div',
    { class: 'provenance', 'data-role': 'provenance' },
    el('h4', { text: 'What the file says' }),
    el(
      'ul',
      {},
      ...provenanceLines(provenance).map(([kind, text]) =>
        el('li', { 'data-kind': kind, text }),
      ),
    ),
  );
}

/** Reverse image search links: http(s) images only, and never with the privacy switch on. */
function searchSection(state) {
  const links = imageSearchLinks(state.srcUrl);
  if (state.serverUse === 'privacy' || !links.length) {
    return null;
  }
  return el(
    'div',
    { class: 'search', 'data-role': 'image-search' },
    el('h4', { text: 'Search this image elsewhere' }),
    el(
      'div',
      {},
      ...links.map(([name, href]) =>
        el('a', {
          href,
          target: '_blank',
          rel: 'noopener noreferrer',
          'data-site': name,
          text: name,
        }),
      ),
    ),
    el('div', {
      class: 'muted',
      text: "A click opens that site in a new tab and sends it this image's URL.",
    }),
  );
}

function answer(
  srcUrl,
  result,
  { elapsedMs, kind = 'check', provenance = true } = {},
) {
  const faces = result.faces ?? [];
  const verdictText = `${VERDICT_WORDS[result.verdict] ?? result.verdict}${
    typeof result.score === 'number' ? ` · ${percent(result.score)} fake` : ''
  }`;
  // a file that declares itself AI-made says so first; the pixel verdict stays, under it
  const declared = result.provenance?.declares_ai;
  return el(
    'section',
    {
      class: 'answer',
      'data-source': result.source,
      'data-kind': kind,
      'data-verdict': result.verdict,
      'data-score': typeof result.score === 'number' ? result.score : '',
      'data-faces': faces.length,
      'data-elapsed-ms': elapsedMs === undefined ? null : Math.round(elapsedMs),
    },
    declared
      ? el('div', {
          class: 'declared',
          'data-role': 'declared',
          text: DECLARED_AI_TEXT,
        })
      : null,
    el('div', {
      class: 'verdict',
      'data-verdict': result.verdict,
      text: declared ? `Pixel verdict: ${verdictText}` : verdictText,
    }),
    el('div', { class: 'muted', text: sourceLine(result, elapsedMs) }),
    result.error ? el('div', { class: 'warn', text: result.error }) : null,
    result.browser
      ? el('div', {
          class: 'muted',
          text: `Asked the server because the in-browser answer (${badgeText({
            ...result.browser,
            source: 'browser',
          })}) was not enough.`,
        })
      : null,
    result.fallback
      ? el('div', {
          class: 'warn',
          'data-role': 'fallback',
          text: `Asked the server because ${fallbackReasonText(
            result.fallback.reason,
          )}, but: ${result.fallback.message} The in-browser verdict stands.`,
        })
      : null,
    figure(srcUrl, result),
    faces.length
      ? el(
          'ol',
          { class: 'faces' },
          ...faces.map((face) =>
            el('li', {
              'data-face-score': face.score,
              'data-face-verdict': face.verdict,
              text: `${VERDICT_WORDS[face.verdict] ?? face.verdict} · ${percent(
                face.score,
              )} fake · ${Math.round(face.box[2])}×${Math.round(face.box[3])} px${
                face.greyscale ? ' · black-and-white (judged less surely)' : ''
              }${face.heatmap ? ' · heatmap' : ''}`,
            }),
          ),
        )
      : null,
    // a video frame copied by the extension is a new file: it declares nothing of the video's
    provenance ? provenanceSection(result.provenance) : null,
  );
}

function serverSection(state, actions) {
  const { server, serverUse } = state;
  if (serverUse === 'privacy') {
    return el('p', {
      class: 'warn',
      'data-role': 'full-res-note',
      text: 'Full-resolution checks are off: this browser never sends images to a server.',
    });
  }
  if (serverUse === 'unset') {
    return el(
      'p',
      { class: 'muted', 'data-role': 'full-res-note' },
      'Full-resolution checks need a backend: ',
      el('a', {
        onclick: () => actions.openOptions(),
        text: 'set one in the options',
      }),
      '.',
    );
  }
  const parts = [
    el('button', {
      class: 'full',
      'data-action': 'full-resolution',
      disabled: server.status === 'loading' ? '' : null,
      onclick: () => actions.fullResolution(),
      text:
        server.status === 'loading'
          ? 'Checking at full resolution…'
          : 'Check at full resolution',
    }),
  ];
  if (server.status === 'failed') {
    parts.push(
      el('p', {
        class: 'warn',
        'data-role': 'server-error',
        text: server.error,
      }),
    );
  }
  if (server.status === 'done') {
    parts.push(
      answer(state.srcUrl, server.result, {
        kind: 'full-resolution',
        provenance: !state.frame,
      }),
    );
  }
  return el('div', { class: 'server' }, ...parts);
}

function reportForm(report, actions) {
  const group = `dfd-report-${(panelCount += 1)}`;
  const sending = report.status === 'sending';
  return el(
    'div',
    { class: 'report-form', 'data-role': 'report-form' },
    el(
      'fieldset',
      {},
      el('legend', { class: 'muted', text: 'What is it really?' }),
      ...REPORT_LABELS.map(([value, text]) =>
        el(
          'label',
          {},
          el('input', {
            type: 'radio',
            name: group,
            value,
            'data-report-label': value,
            checked: report.label === value ? '' : null,
            onchange: () => {
              report.label = value;
            },
          }),
          ` ${text}`,
        ),
      ),
    ),
    el(
      'label',
      { class: 'muted' },
      'Note (optional)',
      el('textarea', {
        rows: 2,
        maxlength: MAX_NOTE_CHARS,
        'data-role': 'report-note',
        oninput: (event) => {
          report.note = event.target.value;
        },
      }),
    ),
    el(
      'label',
      {},
      el('input', {
        type: 'checkbox',
        'data-role': 'report-image',
        checked: report.includeImage ? '' : null,
        onchange: (event) => {
          report.includeImage = event.target.checked;
        },
      }),
      ' Include the image (your server keeps it)',
    ),
    el('button', {
      class: 'send',
      'data-action': 'send-report',
      disabled: sending ? '' : null,
      onclick: () => actions.sendReport(),
      text: sending ? 'Sending…' : 'Send to your server',
    }),
  );
}

function reportSection(state, actions) {
  const { report, serverUse } = state;
  if (serverUse !== 'ok') {
    // the button stays, and says why it does nothing
    return el('button', {
      class: 'report',
      'data-action': 'report',
      disabled: '',
      text:
        serverUse === 'privacy'
          ? 'This is wrong: off, this browser never sends anything to a server'
          : 'This is wrong: reports go to your server; set one in the options',
    });
  }
  const textarea = (form) => form?.querySelector('textarea');
  const form =
    report.open && report.status !== 'sent'
      ? reportForm(report, actions)
      : null;
  if (textarea(form)) {
    textarea(form).value = report.note; // a textarea's value is no attribute
  }
  return el(
    'div',
    { class: 'report-box' },
    el('button', {
      class: 'report',
      'data-action': 'report',
      'aria-expanded': String(report.open),
      disabled: report.status === 'sent' ? '' : null,
      onclick: () => actions.toggleReport(),
      text: 'This is wrong',
    }),
    form,
    report.message
      ? el('p', {
          class: report.status === 'failed' ? 'warn' : 'muted',
          'data-role': 'report-status',
          'data-report-status': report.status,
          'data-report-id': report.id ?? null,
          text: report.message,
        })
      : null,
  );
}

function frameScore(frame) {
  return frame.status === 'done' && typeof frame.result.score === 'number'
    ? frame.result.score
    : -1;
}

function frameText(frame) {
  const at = `${frame.time.toFixed(1)} s`;
  if (frame.status === 'loading') {
    return `${at} · checking…`;
  }
  if (frame.status === 'black') {
    return `${at} · protected or black frame`;
  }
  if (frame.status === 'failed') {
    return `${at} · could not check: ${frame.error}`;
  }
  const { verdict, score } = frame.result;
  return `${at} · ${VERDICT_WORDS[verdict] ?? verdict}${
    typeof score === 'number' ? ` · ${percent(score)} fake` : ''
  }`;
}

/** "Check 10 frames": a summary, then the frames, most suspicious first. */
function strip({ status, error, frames }) {
  if (status === 'sampling') {
    return el('p', {
      class: 'muted',
      'data-role': 'loading',
      text: 'Taking 10 frames from the video…',
    });
  }
  if (status === 'failed') {
    return el('p', { class: 'warn', 'data-role': 'blocked', text: error });
  }
  // a stable sort: frames still loading, black or failed stay in time order at the end
  const ordered = [...frames].sort((a, b) => frameScore(b) - frameScore(a));
  const worst = ordered[0];
  const span = frames.length
    ? `${frames.length} frames from ${frames[0].time.toFixed(1)} s to ${frames[
        frames.length - 1
      ].time.toFixed(1)} s`
    : 'No frame';
  return el(
    'section',
    { class: 'strip-answer' },
    el('div', {
      class: 'muted',
      text:
        status === 'done' && worst && frameScore(worst) >= 0
          ? `${span}. Most suspicious: ${frameText(worst)}.`
          : `${span}.`,
    }),
    el(
      'ol',
      { class: 'strip' },
      ...ordered.map((frame) =>
        el(
          'li',
          {
            'data-status': frame.status,
            'data-verdict': frame.result?.verdict ?? frame.status,
            'data-score': frameScore(frame) >= 0 ? frameScore(frame) : '',
            'data-time': frame.time,
          },
          el('img', { src: frame.dataUrl, alt: '' }),
          el('span', { text: frameText(frame) }),
        ),
      ),
    ),
  );
}

/** Draw the panel for `state` into `container` (replacing what was there). */
export function renderPanel(container, state, actions) {
  if (state.strip) {
    return renderStripPanel(container, state, actions);
  }
  const { browser } = state;
  let body;
  if (browser.status === 'loading') {
    body = el('p', {
      class: 'muted',
      'data-role': 'loading',
      text: 'Checking…',
    });
  } else if (browser.status === 'failed') {
    body = el('p', {
      class: 'warn',
      'data-role': state.blocked ? 'blocked' : 'error',
      text: browser.error,
    });
  } else {
    body = answer(state.srcUrl, browser.result, {
      elapsedMs: browser.elapsedMs,
      provenance: !state.frame,
    });
  }
  const panel = el(
    'div',
    { class: 'panel', 'data-dfd-panel': '', 'data-state': browser.status },
    panelHead('Deepfake check', actions),
    body,
    browser.status === 'loading' || state.blocked
      ? null
      : serverSection(state, actions),
    browser.status === 'loading' || state.blocked ? null : searchSection(state),
    browser.status === 'loading' || state.blocked || !state.report
      ? null
      : reportSection(state, actions),
  );
  container.replaceChildren(panel);
  const full = panel.querySelector('[data-kind=full-resolution]');
  if (full) {
    // the server's answer lands below the fold of a short panel: show it
    panel.scrollTop = full.offsetTop - panel.offsetTop;
  }
  return panel;
}

// the title bar every panel has, with a close button where the host can close it
function panelHead(title, actions) {
  return el(
    'div',
    { class: 'head' },
    el('span', { text: title }),
    actions.close
      ? el('button', {
          class: 'close',
          title: 'Close',
          'aria-label': 'Close',
          onclick: () => actions.close(),
          text: '×',
        })
      : null,
  );
}

function renderStripPanel(container, state, actions) {
  const panel = el(
    'div',
    {
      class: 'panel',
      'data-dfd-panel': '',
      'data-kind': 'strip',
      'data-state': state.strip.status,
    },
    panelHead('Deepfake check: 10 frames', actions),
    strip(state.strip),
  );
  container.replaceChildren(panel);
  return panel;
}
