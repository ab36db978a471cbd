// The toolbar popup: this page's counts, the auto-badge switches, a link to
// "Check files", the model in use and whether the scoring server answers. It
// shows the active tab, or the tab named by ?tab=<id> when opened as a page.

import { backendHealth } from './shared/backend-client.js';
import { modelText } from './shared/results.js';
import {
  badgesOnFor,
  getSettings,
  loadModelInfo,
  onSettingsChanged,
  setSettings,
} from './shared/settings.js';

// the counts change while a page is being scanned
const REFRESH_MS = 1000;
// the counts summed over a page's frames
const COUNTS = ['scanned', 'fake', 'uncertain', 'scanning'];

const $ = (id) => document.getElementById(id);
const siteSwitch = $('site-badges');
const allSwitch = $('all-badges');

async function pageTabId() {
  const named = Number(new URLSearchParams(location.search).get('tab'));
  if (Number.isInteger(named) && named > 0) {
    return named;
  }
  const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  return tab?.id;
}

const tabId = await pageTabId();
let host = null;

/** The page's counts, summed over its frames (an embedded post is a frame of its own). */
async function pageStats() {
  const frames = await chrome.scripting.executeScript({
    target: { tabId, allFrames: true },
    func: () => globalThis.dfdPageStats?.() ?? null,
  });
  const top = frames.find((frame) => frame.frameId === 0)?.result;
  if (!top) {
    throw new Error('no content script in this page');
  }
  const total = { ...top };
  for (const { frameId, result } of frames) {
    if (frameId !== 0 && result) {
      for (const key of COUNTS) {
        total[key] += result[key];
      }
    }
  }
  return total;
}

async function refreshStats() {
  try {
    const stats = await pageStats();
    host = stats.host;
    for (const node of document.querySelectorAll('[data-stat]')) {
      node.textContent = stats[node.dataset.stat];
    }
    $('page-note').textContent = stats.scanning
      ? `Scanning ${stats.scanning} more…`
      : '';
  } catch {
    host = null;
    $('page-note').textContent =
      'The extension cannot read this page (browser pages, the Web Store, ' +
      'or tabs opened before it was installed: reload the tab).';
  }
}

async function refreshSwitches() {
  const settings = await getSettings();
  allSwitch.checked = settings.autoBadges;
  siteSwitch.disabled = !host;
  siteSwitch.checked = host ? badgesOnFor(settings, host) : false;
  $('host').textContent = host ?? 'this site';
}

siteSwitch.addEventListener('change', async () => {
  const settings = await getSettings();
  const siteBadges = { ...settings.siteBadges };
  if (siteSwitch.checked === settings.autoBadges) {
    delete siteBadges[host];
  } else {
    siteBadges[host] = siteSwitch.checked;
  }
  await setSettings({ siteBadges });
});

allSwitch.addEventListener('change', () =>
  setSettings({ autoBadges: allSwitch.checked }),
);

$('open-options').addEventListener('click', (event) => {
  event.preventDefault();
  chrome.runtime.openOptionsPage();
});
$('open-files').addEventListener('click', (event) => {
  event.preventDefault();
  chrome.tabs.create({ url: chrome.runtime.getURL('files.html') });
});

async function showModel() {
  try {
    const info = await loadModelInfo();
    $('model').textContent = modelText({
      name: info.name ?? info.model,
      version: info.version,
    });
  } catch (error) {
    $('model').textContent = `unreadable (${error.message})`;
  }
}

/** Whether the server answers; with the privacy switch on, nothing is asked. */
async function showServer() {
  const settings = await getSettings();
  const server = $('server');
  server.dataset.state = 'asking';
  if (settings.neverSendImages) {
    server.dataset.state = 'off';
    server.textContent = 'off (this browser never sends images)';
    return;
  }
  if (!settings.backendUrl) {
    server.dataset.state = 'unset';
    server.textContent = 'none set (checks stay in this browser)';
    return;
  }
  server.textContent = `${settings.backendUrl}: asking…`;
  try {
    await backendHealth(settings);
    server.dataset.state = 'reachable';
    server.textContent = `${settings.backendUrl}: reachable`;
  } catch (error) {
    server.dataset.state = 'unreachable';
    server.textContent = `${settings.backendUrl}: not reachable. ${error.message}`;
  }
}

showModel();
showServer();
onSettingsChanged((changed) => {
  if (
    ['backendUrl', 'apiToken', 'neverSendImages'].some((k) =>
      changed.includes(k),
    )
  ) {
    showServer();
  }
});
onSettingsChanged(() => refreshSwitches());
await refreshStats();
await refreshSwitches();
setInterval(async () => {
  await refreshStats();
  await refreshSwitches();
}, REFRESH_MS);
