// The user's settings, kept in chrome.storage.sync. Model constants are not
// settings: threshold and uncertain band are null until the user overrides
// them, and then resolve to model-info.json's values (`modelDecision`).

export const DEFAULT_SETTINGS = Object.freeze({
  // auto-badges everywhere unless a site says otherwise
  autoBadges: true,
  // host -> true/false: auto-badges on this site, overriding `autoBadges`
  siteBadges: {},
  // P(fake) at or above which a face is fake; null: model-info.json's
  threshold: null,
  // [low, high) of P(fake) that is uncertain; null: model-info.json's
  uncertainBand: null,
  // the scoring backend, e.g. http://127.0.0.1:8000; '' means none
  backendUrl: '',
  // sent as `Authorization: Bearer <token>` when set
  apiToken: '',
  // privacy switch: never send an image (or anything else) to a server
  neverSendImages: false,
});

const storage = () => chrome.storage.sync;

/** All settings, defaults filled in. */
export async function getSettings() {
  return { ...DEFAULT_SETTINGS, ...(await storage().get(DEFAULT_SETTINGS)) };
}

/** Store some settings. */
export async function setSettings(patch) {
  await storage().set(patch);
}

/** Call `callback(changedKeys)` when a setting changes anywhere. */
export function onSettingsChanged(callback) {
  const listener = (changes, area) => {
    if (area === 'sync') {
      callback(Object.keys(changes));
    }
  };
  chrome.storage.onChanged.addListener(listener);
  return () => chrome.storage.onChanged.removeListener(listener);
}

/** Whether auto-badges run on `host`. */
export function badgesOnFor(settings, host) {
  const site = settings.siteBadges?.[host];
  return typeof site === 'boolean' ? site : settings.autoBadges;
}

/** Whether images may go to the backend. */
export function backendAllowed(settings) {
  return Boolean(settings.backendUrl) && !settings.neverSendImages;
}

/** Threshold and band: the user's, else model-info.json's. */
export function modelDecision(settings, info) {
  return {
    threshold: settings.threshold ?? info.threshold,
    band: settings.uncertainBand ?? info.uncertain_band,
    // black-and-white faces: the model's wider band, unless the user set one
    greyBand: settings.uncertainBand ?? info.greyscale.uncertain_band,
  };
}

/** model-info.json as the converter wrote it (extension pages only). */
export async function loadModelInfo() {
  const response = await fetch(chrome.runtime.getURL('model/model-info.json'));
  if (!response.ok) {
    throw new Error(`model-info.json answered ${response.status}`);
  }
  return response.json();
}

/** Check a threshold/band pair; returns an error sentence or ''. */
export function checkDecision(threshold, band) {
  const inUnit = (v) => Number.isFinite(v) && v >= 0 && v <= 1;
  if (threshold !== null && !inUnit(threshold)) {
    return 'The threshold must be between 0 and 1.';
  }
  if (band !== null) {
    if (!inUnit(band[0]) || !inUnit(band[1])) {
      return 'The uncertain band must lie between 0 and 1.';
    }
    if (band[0] > band[1]) {
      return 'The uncertain band must start below where it ends.';
    }
  }
  return '';
}

/** Normalise a backend URL (no trailing slash); throws on a bad one. */
export function normaliseBackendUrl(text) {
  const trimmed = text.trim();
  if (!trimmed) {
    return '';
  }
  const url = new URL(trimmed);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error('The backend URL must start with http:// or https://.');
  }
  return url.href.replace(/\/+$/, '');
}
