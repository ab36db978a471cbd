// "Check files": images from this computer, scored in this browser by the
// offscreen document (as badges are; nothing is uploaded) and each shown with
// the panel a page shows. Files are checked one at a time, in the order they
// came; the list shows the ones still waiting.

import { readAsDataUrl } from './shared/client.js';
import { PANEL_CSS, renderPanel } from './shared/panel-view.js';
import { runPanel } from './shared/panel-controller.js';
import { getSettings, onSettingsChanged } from './shared/settings.js';

// a file travels to the offscreen document inside a message (shared/client.js)
const MAX_FILE_BYTES = 16 * 1024 * 1024;
// HEIC files often come without a type on Linux and Windows
const IMAGE_NAME = /\.(jpe?g|png|webp|gif|heic|heif|avif|bmp)$/i;

const $ = (id) => document.getElementById(id);
let settings = await getSettings();
const waiting = []; // { file, item } in arrival order
const panels = []; // runPanel handles, redrawn when the settings change
let checking = false;

const sheet = new CSSStyleSheet();
sheet.replaceSync(PANEL_CSS);
document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];

function setStatus(item, status, text) {
  item.dataset.status = status;
  item.querySelector('.status').textContent = text;
  summarise(); // the summary never lags behind the list
}

function summarise() {
  const items = [...document.querySelectorAll('#files > li')];
  const done = items.filter((i) => i.dataset.status === 'done').length;
  $('summary').textContent = items.length
    ? `${done} of ${items.length} checked${waiting.length ? `, ${waiting.length} waiting` : ''}.`
    : '';
}

function addFiles(files) {
  for (const file of files) {
    const item = document.createElement('li');
    item.className = 'card';
    const name = document.createElement('b');
    name.className = 'name';
    name.textContent = file.name;
    const status = document.createElement('span');
    status.className = 'status muted';
    const panel = document.createElement('div');
    panel.className = 'file-panel';
    item.append(name, ' ', status, panel);
    $('files').append(item);
    waiting.push({ file, item });
    setStatus(item, 'waiting', 'Waiting…');
  }
  checkNext();
}

/** Why `file` cannot be checked here, or ''. */
function refusal(file) {
  if (!file.type.startsWith('image/') && !IMAGE_NAME.test(file.name)) {
    return 'Not an image file.';
  }
  if (file.size > MAX_FILE_BYTES) {
    return 'Over 16 MB: too large to check in the browser.';
  }
  return '';
}

/** The panel for one file, resolved once its in-browser verdict (or error) is in. */
function check({ file, item }) {
  const refused = refusal(file);
  if (refused) {
    setStatus(item, 'failed', refused);
    return Promise.resolve();
  }
  setStatus(item, 'checking', 'Checking…');
  const container = item.querySelector('.file-panel');
  return new Promise((resolve, reject) => {
    readAsDataUrl(file).then((src) => {
      panels.push(
        runPanel({
          src,
          show: (state, actions) => {
            renderPanel(container, state, actions);
            if (state.browser.status !== 'loading') {
              item.dataset.verdict = state.browser.result?.verdict ?? 'error';
              setStatus(item, 'done', '');
              resolve();
            }
          },
          isCurrent: () => true,
          getSettings: () => settings,
          openOptions: () => chrome.runtime.openOptionsPage(),
        }),
      );
    }, reject);
  });
}

async function checkNext() {
  if (checking) {
    return;
  }
  checking = true;
  while (waiting.length) {
    const job = waiting.shift();
    try {
      await check(job);
    } catch (error) {
      setStatus(
        job.item,
        'failed',
        `Could not read the file: ${error.message}`,
      );
    }
  }
  checking = false;
}

$('pick').addEventListener('change', (event) => {
  addFiles([...event.target.files]);
  event.target.value = ''; // the same file may be chosen again
});
const drop = $('drop');
drop.addEventListener('dragover', (event) => {
  event.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('over');
  addFiles([...event.dataTransfer.files]);
});
onSettingsChanged(async () => {
  settings = await getSettings();
  for (const panel of panels) {
    panel.redraw();
  }
});
