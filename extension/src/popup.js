// The toolbar popup: this page's counts and the auto-badge switches. It
// shows the active tab, or the tab named by ?tab=<id> when opened as a page.

import { MSG, sendToTab } from './shared/messages.js';
import {
  badgesOnFor,
  getSettings,
  onSettingsChanged,
  setSettings,
} from './shared/settings.js';

// the counts change while a page is being scanned
const REFRESH_MS = 1000;

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

async function refreshStats() {
  try {
    const stats = await sendToTab(tabId, MSG.getPageStats, {});
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

onSettingsChanged(() => refreshSwitches());
await refreshStats();
await refreshSwitches();
setInterval(async () => {
  await refreshStats();
  await refreshSwitches();
}, REFRESH_MS);
