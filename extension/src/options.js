// Options: threshold and uncertain band (defaults from model-info.json),
// backend URL and token, the privacy switch and the per-site list, all kept
// in chrome.storage.sync. Every change is checked, then saved at once.

import { backendHealth } from './shared/backend-client.js';
import {
  checkDecision,
  getSettings,
  loadModelInfo,
  modelDecision,
  normaliseBackendUrl,
  onSettingsChanged,
  setSettings,
} from './shared/settings.js';
import { modelText } from './shared/results.js';

// thresholds are shown to 4 decimals (model-info.json's carry float32 noise)
const SHOWN_DECIMALS = 4;
// a typed value this close to the model's is the model's: it keeps following it
const SAME_AS_MODEL = 0.5 * 10 ** -SHOWN_DECIMALS;

const $ = (id) => document.getElementById(id);
const shown = (v) =>
  typeof v === 'number' ? Number(v.toFixed(SHOWN_DECIMALS)) : v;
const field = {
  threshold: $('threshold'),
  bandLow: $('band-low'),
  bandHigh: $('band-high'),
  backendUrl: $('backend-url'),
  apiToken: $('api-token'),
  neverSend: $('never-send'),
  autoBadges: $('auto-badges'),
};

let info = null;

function say(text, kind = '') {
  $('status').textContent = text;
  $('status').className = kind;
}

function numberOrNull(input) {
  return input.value.trim() === '' ? null : Number(input.value);
}

async function render() {
  const settings = await getSettings();
  const { threshold, band } = info
    ? modelDecision(settings, info)
    : { threshold: settings.threshold, band: settings.uncertainBand };
  // a focused field is being typed in: leave it alone
  const put = (input, value) => {
    if (document.activeElement !== input) {
      input.value = value ?? '';
    }
  };
  put(field.threshold, shown(threshold));
  put(field.bandLow, shown(band?.[0]));
  put(field.bandHigh, shown(band?.[1]));
  put(field.backendUrl, settings.backendUrl);
  put(field.apiToken, settings.apiToken);
  field.neverSend.checked = settings.neverSendImages;
  field.autoBadges.checked = settings.autoBadges;
  $('test-backend').disabled = settings.neverSendImages || !settings.backendUrl;
  $('backend-status').textContent = settings.neverSendImages
    ? 'Off: this browser never sends images to a server.'
    : '';
  renderSites(settings.siteBadges);
}

function renderSites(siteBadges) {
  const rows = Object.entries(siteBadges).sort(([a], [b]) =>
    a.localeCompare(b),
  );
  $('no-sites').hidden = rows.length > 0;
  $('sites').hidden = rows.length === 0;
  $('sites').tBodies[0].replaceChildren(
    ...rows.map(([host, on]) => {
      const tr = document.createElement('tr');
      tr.dataset.site = host;
      const name = document.createElement('td');
      name.textContent = host;
      const state = document.createElement('td');
      state.textContent = on ? 'on' : 'off';
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.textContent = 'Remove';
      remove.addEventListener('click', () => saveSite(host, undefined));
      const cell = document.createElement('td');
      cell.append(remove);
      tr.append(name, state, cell);
      return tr;
    }),
  );
}

async function saveDecision() {
  const threshold = numberOrNull(field.threshold);
  const low = numberOrNull(field.bandLow);
  const high = numberOrNull(field.bandHigh);
  const band = low === null && high === null ? null : [low, high];
  const problem = checkDecision(threshold, band);
  if (problem) {
    say(problem, 'error');
    return;
  }
  // values equal to the model's are stored as null: they follow the model
  const sameAsModel = (a, b) =>
    info && a !== null && Math.abs(a - b) < SAME_AS_MODEL;
  await setSettings({
    threshold: sameAsModel(threshold, info?.threshold) ? null : threshold,
    uncertainBand:
      band &&
      sameAsModel(band[0], info?.uncertain_band[0]) &&
      sameAsModel(band[1], info?.uncertain_band[1])
        ? null
        : band,
  });
  say('Saved.');
}

async function saveBackend() {
  let backendUrl;
  try {
    backendUrl = normaliseBackendUrl(field.backendUrl.value);
  } catch (error) {
    say(
      error instanceof TypeError ? 'That is not a URL.' : error.message,
      'error',
    );
    return;
  }
  await setSettings({ backendUrl, apiToken: field.apiToken.value.trim() });
  say('Saved.');
}

async function saveSite(host, on) {
  const settings = await getSettings();
  const siteBadges = { ...settings.siteBadges };
  if (on === undefined) {
    delete siteBadges[host];
  } else {
    siteBadges[host] = on;
  }
  await setSettings({ siteBadges });
  say('Saved.');
}

function siteFromInput() {
  const text = $('new-site').value.trim();
  if (!text) {
    return null;
  }
  try {
    return new URL(text.includes('://') ? text : `https://${text}`).hostname;
  } catch {
    say('That is not a site name.', 'error');
    return null;
  }
}

for (const input of [field.threshold, field.bandLow, field.bandHigh]) {
  input.addEventListener('change', saveDecision);
}
for (const input of [field.backendUrl, field.apiToken]) {
  input.addEventListener('change', saveBackend);
}
field.neverSend.addEventListener('change', async () => {
  await setSettings({ neverSendImages: field.neverSend.checked });
  say('Saved.');
});
field.autoBadges.addEventListener('change', async () => {
  await setSettings({ autoBadges: field.autoBadges.checked });
  say('Saved.');
});
$('reset-decision').addEventListener('click', async () => {
  await setSettings({ threshold: null, uncertainBand: null });
  say("Using the model's values.");
  await render();
});
for (const [id, on] of [
  ['add-site-off', false],
  ['add-site-on', true],
]) {
  $(id).addEventListener('click', async () => {
    const host = siteFromInput();
    if (host) {
      $('new-site').value = '';
      await saveSite(host, on);
    }
  });
}
$('test-backend').addEventListener('click', async () => {
  $('backend-status').textContent = 'Asking…';
  try {
    const health = await backendHealth(await getSettings());
    $('backend-status').textContent = `Reachable (${JSON.stringify(health)}).`;
  } catch (error) {
    $('backend-status').textContent = error.message;
  }
});
$('options').addEventListener('submit', (event) => event.preventDefault());

onSettingsChanged(() => render());
try {
  info = await loadModelInfo();
  $('model-defaults').textContent =
    `The model (${modelText({ name: info.name ?? info.model, version: info.version })}) ` +
    `says fake at ${shown(info.threshold)}, uncertain from ` +
    `${shown(info.uncertain_band[0])} up to ${shown(info.uncertain_band[1])} ` +
    `(black-and-white faces, which it judges less surely: from ${shown(info.greyscale.uncertain_band[0])} ` +
    `up to ${shown(info.greyscale.uncertain_band[1])}). Change them here to be stricter or looser; ` +
    'a band set here applies to every face.';
} catch (error) {
  $('model-defaults').textContent =
    `Could not read the model's defaults: ${error.message}`;
}
await render();
