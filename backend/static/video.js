// The upload page's video half: sends a video to /api/v1/score-video and
// draws each face's score over time as an SVG, with the most suspicious frames.

const SCORE_VIDEO_URL = 'api/v1/score-video';
const MODEL_URL = 'api/v1/model';
const SVG_NS = 'http://www.w3.org/2000/svg';
const VIDEO_TYPES = /^video\/(mp4|webm|quicktime|x-matroska)$/;
const VIDEO_NAMES = /\.(mp4|m4v|webm|mov|mkv)$/i; // some systems give no type for a dropped file
// the plot's size in SVG units; it scales to the page's width
const PLOT = { width: 640, height: 240, left: 44, right: 12, top: 12, bottom: 34 };
// one colour per face, told apart by hue and in the legend by number
const TRACK_COLOURS = ['#1565c0', '#6a1b9a', '#00838f', '#ad1457', '#4e342e', '#558b2f', '#283593', '#f9a825'];
const VERDICT_TEXT = {
  fake: 'Likely fake',
  real: 'Likely real',
  uncertain: 'Uncertain',
  no_face: 'No face found',
};

let modelInfo = null; // threshold and band, for the plot's shading; fetched once

export function isVideo(file) {
  return VIDEO_TYPES.test(file.type) || (!file.type && VIDEO_NAMES.test(file.name || ''));
}

function percent(score) {
  return `${Math.round(score * 100)}%`;
}

function seconds(value) {
  return `${value.toFixed(1)} s`;
}

function svg(tag, attributes = {}, text = '') {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text) node.textContent = text;
  return node;
}

function colour(track) {
  return TRACK_COLOURS[(track.id - 1) % TRACK_COLOURS.length];
}

// a round step for the time axis: about six ticks whatever the length
function timeStep(duration) {
  const rough = Math.max(duration, 1) / 6;
  const power = 10 ** Math.floor(Math.log10(rough));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough);
}

export function drawTimeline(body, model) {
  const { width, height, left, right, top, bottom } = PLOT;
  const duration = Math.max(body.video.duration_s, 0.001);
  const x = (t) => left + ((width - left - right) * t) / duration;
  const y = (score) => top + (height - top - bottom) * (1 - score);
  const plot = svg('svg', {
    id: 'timeline',
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': 'Each face’s score over time: higher is more likely fake',
  });
  if (model) {
    const [low, high] = model.uncertain_band;
    plot.append(
      svg('rect', { class: 'band', x: left, y: y(high), width: width - left - right, height: y(low) - y(high) }),
      svg('line', { class: 'threshold', x1: left, x2: width - right, y1: y(model.threshold), y2: y(model.threshold) }),
    );
  }
  for (const score of [0, 0.5, 1]) {
    plot.append(
      svg('line', { class: 'grid', x1: left, x2: width - right, y1: y(score), y2: y(score) }),
      svg('text', { class: 'axis', x: left - 6, y: y(score) + 4, 'text-anchor': 'end' }, percent(score)),
    );
  }
  const step = timeStep(duration);
  for (let t = 0; t <= duration + 1e-9; t += step) {
    plot.append(svg('text', { class: 'axis', x: x(t), y: height - bottom + 18, 'text-anchor': 'middle' }, `${+t.toFixed(2)} s`));
  }
  for (const track of body.tracks) {
    const points = track.timeline.map((p) => `${x(p.time_s).toFixed(1)},${y(p.score).toFixed(1)}`).join(' ');
    const line = svg('polyline', { class: 'track', points, stroke: colour(track), 'data-track': track.id });
    line.append(svg('title', {}, `Face ${track.id}`));
    plot.append(line);
    for (const p of track.timeline) {
      const dot = svg('circle', { cx: x(p.time_s), cy: y(p.score), r: 3.5, fill: colour(track) });
      dot.append(svg('title', {}, `Face ${track.id} at ${seconds(p.time_s)}: ${percent(p.score)} likely fake`));
      plot.append(dot);
    }
  }
  return plot;
}

function trackItem(track) {
  const item = document.createElement('li');
  item.className = `track ${track.verdict}`;
  item.dataset.track = track.id;
  const swatch = svg('svg', { class: 'swatch', viewBox: '0 0 10 10', 'aria-hidden': 'true' });
  swatch.append(svg('rect', { width: 10, height: 10, fill: colour(track) }));
  const frames = track.frames === 1 ? '1 frame' : `${track.frames} frames`;
  item.append(
    swatch,
    ` Face ${track.id}: ${VERDICT_TEXT[track.verdict]}, ${percent(track.score)} likely fake ` +
      `(seen ${seconds(track.first_seen_s)} to ${seconds(track.last_seen_s)}, ${frames})` +
      (track.greyscale ? ', black-and-white' : ''),
  );
  return item;
}

function frameItem(frame) {
  const item = document.createElement('li');
  item.className = 'suspicious-frame';
  const still = document.createElement('img');
  still.src = frame.frame;
  still.alt = `The frame at ${seconds(frame.time_s)}`;
  const heat = document.createElement('img');
  heat.className = 'heatmap';
  heat.src = frame.heatmap;
  heat.alt = `Heatmap of face ${frame.track} at ${seconds(frame.time_s)}: where the model saw signs of manipulation`;
  const caption = document.createElement('p');
  caption.textContent = `${seconds(frame.time_s)}, face ${frame.track}: ${percent(frame.score)} likely fake`;
  item.append(still, heat, caption);
  return item;
}

export function renderVideo(body, model) {
  const summary = document.getElementById('video-summary');
  summary.textContent = VERDICT_TEXT[body.verdict] + (body.score === null ? '' : `, ${percent(body.score)}`);
  summary.className = body.verdict;
  const faces = body.tracks.length === 1 ? '1 face' : `${body.tracks.length} faces`;
  const v = body.video;
  document.getElementById('video-details').textContent =
    `${faces} followed through ${seconds(v.duration_s)} of ${v.width}×${v.height} video: ` +
    `${v.frames_scored} frames scored, one every ${seconds(v.sample_every_s)}, by ${body.model.name} ` +
    `${body.model.version} in ${(body.elapsed_ms / 1000).toFixed(1)} s. The verdict is the most suspicious face's.`;
  document.getElementById('timeline-box').replaceChildren(drawTimeline(body, model));
  document.getElementById('tracks').replaceChildren(...body.tracks.map(trackItem));
  document.getElementById('suspicious-frames').replaceChildren(...body.suspicious_frames.map(frameItem));
  document.getElementById('frames-heading').hidden = body.suspicious_frames.length === 0;
  document.getElementById('video-result').hidden = false;
}

async function fetchModel(headers) {
  if (modelInfo) return modelInfo;
  try {
    const response = await fetch(MODEL_URL, { headers });
    if (response.ok) modelInfo = await response.json();
  } catch {
    // the plot goes without the band; the verdicts come from the server anyway
  }
  return modelInfo;
}

export function clearVideo() {
  document.getElementById('video-result').hidden = true;
}

// posts the video; `page` gives the upload page's status line and token
export async function scoreVideo(file, page) {
  page.showStatus(`Scoring ${file.name || 'the video'}: every face, frame by frame…`);
  const form = new FormData();
  form.append('video', file, file.name || 'video');
  let response;
  try {
    response = await fetch(SCORE_VIDEO_URL, { method: 'POST', body: form, headers: page.authHeaders() });
  } catch {
    page.showStatus('The server could not be reached; check that it is running.', true);
    return;
  }
  const body = await response
    .json()
    .catch(() => ({ error: `The server answered ${response.status} without an explanation.` }));
  if (!response.ok) {
    if (response.status === 401) page.askForToken();
    page.showStatus(body.error, true);
    return;
  }
  const model = await fetchModel(page.authHeaders());
  page.showStatus('');
  renderVideo(body, model);
}
