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
  // threads say whether wasm got its fast, multi-threaded start
  const threads = result.tfThreads > 1 ? ` on ${result.tfThreads} threads` : '';
  return `Scored in this browser (${modelText(result.model)}${
    result.tfBackend ? `, ${result.tfBackend}${threads}` : ''
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

function answer(srcUrl, result, { elapsedMs, kind = 'check' } = {}) {
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
    provenanceSection(result.provenance),
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
      answer(state.srcUrl, server.result, { kind: 'full-resolution' }),
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

/** Draw the panel for `state` into `container` (replacing what was there). */
export function renderPanel(container, state, actions) {
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
      'data-role': 'error',
      text: browser.error,
    });
  } else {
    body = answer(state.srcUrl, browser.result, {
      elapsedMs: browser.elapsedMs,
    });
  }
  const panel = el(
    'div',
    { class: 'panel', 'data-dfd-panel': '', 'data-state': browser.status },
    el(
      'div',
      { class: 'head' },
      el('span', { text: 'Deepfake check' }),
      actions.close
        ? el('button', {
            class: 'close',
            title: 'Close',
            'aria-label': 'Close',
            onclick: () => actions.close(),
            text: '×',
          })
        : null,
    ),
    body,
    browser.status === 'loading' ? null : serverSection(state, actions),
    browser.status === 'loading' ? null : searchSection(state),
    browser.status === 'loading' || !state.report
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
