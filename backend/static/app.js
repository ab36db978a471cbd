// The upload page: sends the chosen image to this server's API and draws the
// faces, verdicts, scores and heatmaps it answers with.

const SCORE_URL = 'api/v1/score?explain=1'; // relative: the page only talks to its own server
const REPORTS_URL = 'api/v1/reports';
const TOKEN_KEY = 'dfd-api-token'; // localStorage key; the token never leaves this origin
const VERDICT_TEXT = {
  fake: 'Likely fake',
  real: 'Likely real',
  uncertain: 'Uncertain',
  no_face: 'No face found',
};

const drop = document.getElementById('drop');
const fileInput = document.getElementById('file');
const tokenBox = document.getElementById('token-box');
const tokenInput = document.getElementById('token');
const statusLine = document.getElementById('status');
const result = document.getElementById('result');
const figure = document.getElementById('figure');
const preview = document.getElementById('preview');
const facesList = document.getElementById('faces');

let previewUrl = null;
// what the user saw, for "This is wrong": the file and the server's answer
let shown = null;

function percent(score) {
  return `${Math.round(score * 100)}%`;
}

function showStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle('error', isError);
}

function authHeaders() {
  const token = tokenInput.value.trim();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function clearResult() {
  result.hidden = true;
  shown = null;
  resetReport();
  facesList.replaceChildren();
  document.getElementById('provenance').replaceChildren();
  figure.querySelectorAll('.box').forEach((box) => box.remove());
}

function drawBox(face, index, image) {
  const [x, y, w, h] = face.box;
  const box = document.createElement('div');
  box.className = `box ${face.verdict}`;
  // percentages keep the box on the face however the image is scaled
  box.style.left = `${(100 * x) / image.width}%`;
  box.style.top = `${(100 * y) / image.height}%`;
  box.style.width = `${(100 * w) / image.width}%`;
  box.style.height = `${(100 * h) / image.height}%`;
  const label = document.createElement('span');
  label.textContent = `${index + 1}: ${VERDICT_TEXT[face.verdict]} ${percent(face.score)}`;
  box.append(label);
  figure.append(box);
}

function listFace(face, index) {
  const item = document.createElement('li');
  item.className = `face ${face.verdict}`;
  const text = document.createElement('p');
  text.textContent = `Face ${index + 1}: ${VERDICT_TEXT[face.verdict]}, ${percent(face.score)} likely fake` +
    (face.greyscale ? ' (black-and-white: the model judges these less surely, so it says "uncertain" more often)' : '');
  item.append(text);
  if (face.heatmap) {
    const heat = document.createElement('img');
    heat.className = 'heatmap';
    heat.src = face.heatmap;
    heat.alt = `Heatmap of face ${index + 1}: where the model saw signs of manipulation`;
    item.append(heat);
  }
  facesList.append(item);
}

// "What the file says": one line per thing the file declares, never mixed into the score
const CREDENTIAL_STATES = {
  none: 'none',
  trusted: 'present, signed by a trusted signer',
  valid: 'present, signature valid',
  untrusted: 'present, signature valid but the signer is on no trust list this server knows',
  invalid: 'present but invalid: the file changed after signing, or the signature fails',
  unreadable: 'present but could not be read',
};

function provenanceLines(p) {
  const lines = [];
  const cc = p.content_credentials;
  const signer = cc.signer ? ` (signed by ${cc.signer})` : '';
  lines.push(['credentials', `Content Credentials: ${CREDENTIAL_STATES[cc.state]}${signer}`]);
  if (cc.claim_generator) lines.push(['claim-generator', `Written by: ${cc.claim_generator}`]);
  for (const action of cc.actions) {
    const software = action.software ? ` (${action.software})` : '';
    lines.push(['action', `Action: ${action.description}${software}`]);
  }
  cc.problems.forEach((problem) => lines.push(['problem', problem]));
  if (p.declared_source) {
    lines.push(['source', `Declared source (IPTC): ${p.declared_source.description}`]);
  }
  if (p.generator) {
    const { tool, model, prompt } = p.generator;
    lines.push(['generator', `Generator settings: ${tool}` + (model ? `, model ${model}` : '') +
      (prompt ? `, prompt "${prompt}"` : '')]);
  }
  if (p.camera) {
    lines.push(['camera', `Camera: ${[p.camera.make, p.camera.model].filter(Boolean).join(' ')}`]);
  }
  if (p.software) lines.push(['software', `Software: ${p.software}`]);
  if (p.nothing_declared) lines.push(['nothing', 'Nothing declared.']);
  p.problems.forEach((problem) => lines.push(['problem', problem]));
  lines.push(['note', p.note]);
  return lines;
}

function renderProvenance(p) {
  const list = document.getElementById('provenance');
  list.replaceChildren(
    ...provenanceLines(p).map(([kind, text]) => {
      const item = document.createElement('li');
      item.dataset.kind = kind;
      item.textContent = text;
      return item;
    }),
  );
}

function render(body) {
  const summary = document.getElementById('summary');
  const pixels = document.getElementById('pixel-verdict');
  const declared = body.provenance?.declares_ai;
  // a file that declares itself AI-made says so first; the pixel verdict stays, under it
  summary.textContent = declared ? 'AI-made (declared by the file)' : VERDICT_TEXT[body.verdict];
  summary.className = declared ? 'declared' : body.verdict;
  pixels.hidden = !declared;
  pixels.textContent = declared
    ? `Pixel verdict: ${VERDICT_TEXT[body.verdict]}` +
      (body.score === null ? '' : `, ${percent(body.score)} likely fake`) +
      ` (declared by ${body.provenance.declared_by.join(', ')})`
    : '';
  if (body.provenance) renderProvenance(body.provenance);
  const faces = body.faces.length === 1 ? '1 face' : `${body.faces.length} faces`;
  document.getElementById('details').textContent =
    `${faces} in a ${body.image.width}×${body.image.height} image, ` +
    `scored by ${body.model.name} ${body.model.version} in ${Math.round(body.elapsed_ms)} ms.`;
  body.faces.forEach((face, i) => drawBox(face, i, body.image));
  body.faces.forEach(listFace);
  result.hidden = false;
}

async function scoreFile(file) {
  clearResult();
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = URL.createObjectURL(file);
  preview.src = previewUrl;
  showStatus(`Scoring ${file.name || 'the image'}…`);
  const form = new FormData();
  form.append('image', file, file.name || 'image');
  let response;
  try {
    response = await fetch(SCORE_URL, { method: 'POST', body: form, headers: authHeaders() });
  } catch {
    showStatus('The server could not be reached; check that it is running.', true);
    return;
  }
  const body = await response
    .json()
    .catch(() => ({ error: `The server answered ${response.status} without an explanation.` }));
  if (!response.ok) {
    if (response.status === 401) {
      tokenBox.open = true;
      tokenInput.focus();
    }
    showStatus(body.error, true);
    return;
  }
  showStatus('');
  render(body);
  shown = { file, body };
}

// "This is wrong": the label, a note and, when ticked, the image, to this server only
const reportBox = document.getElementById('report-box');
const reportNote = document.getElementById('report-note');
const reportImage = document.getElementById('report-image');
const reportSend = document.getElementById('report-send');
const reportStatus = document.getElementById('report-status');

function resetReport() {
  reportBox.open = false;
  reportBox.querySelectorAll('input[name=report-label]').forEach((radio) => {
    radio.checked = false;
  });
  reportNote.value = '';
  reportImage.checked = false; // the image goes only when the user asks, each time
  reportSend.disabled = false;
  reportStatus.textContent = '';
  reportStatus.classList.remove('error');
}

async function sha256Hex(blob) {
  // crypto.subtle exists on https and localhost only; elsewhere the server hashes an included image
  if (!globalThis.crypto?.subtle) {
    return '';
  }
  const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

function reportError(text) {
  reportStatus.textContent = text;
  reportStatus.classList.add('error');
}

async function sendReport() {
  const label = reportBox.querySelector('input[name=report-label]:checked')?.value;
  if (!shown) {
    return;
  }
  if (!label) {
    reportError('Choose what the image really is first.');
    return;
  }
  const { file, body } = shown;
  const form = new FormData();
  form.append('label', label);
  form.append('verdict', body.verdict);
  form.append('score', body.score === null ? '' : String(body.score));
  form.append('model_version', body.model.version);
  form.append('note', reportNote.value.trim());
  const sha256 = await sha256Hex(file);
  if (sha256) {
    form.append('sha256', sha256);
  }
  if (reportImage.checked) {
    form.append('image', file, file.name || 'image');
  } else if (!sha256) {
    reportError('This page can hash the image only over https or on localhost; tick "Include the image" to report it.');
    return;
  }
  reportSend.disabled = true;
  reportStatus.classList.remove('error');
  reportStatus.textContent = 'Sending…';
  let response;
  try {
    response = await fetch(REPORTS_URL, { method: 'POST', body: form, headers: authHeaders() });
  } catch {
    reportSend.disabled = false;
    reportError('The server could not be reached; check that it is running.');
    return;
  }
  const answer = await response
    .json()
    .catch(() => ({ error: `The server answered ${response.status} without an explanation.` }));
  if (!response.ok) {
    reportSend.disabled = false;
    reportError(answer.error);
    return;
  }
  reportStatus.dataset.reportId = answer.id;
  reportStatus.textContent = `Thank you: report ${answer.id} is kept on this server${answer.has_image ? ', with the image' : ''}.`;
}

reportSend.addEventListener('click', sendReport);

function firstImage(files) {
  return Array.from(files || []).find((f) => f.type.startsWith('image/')) || files?.[0];
}

tokenInput.value = localStorage.getItem(TOKEN_KEY) || '';
tokenInput.addEventListener('change', () => localStorage.setItem(TOKEN_KEY, tokenInput.value.trim()));

fileInput.addEventListener('change', () => {
  const file = fileInput.files[0];
  if (file) scoreFile(file);
  fileInput.value = ''; // picking the same file again still triggers a check
});

drop.addEventListener('dragover', (event) => {
  event.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('over');
  const file = firstImage(event.dataTransfer.files);
  if (file) scoreFile(file);
});
document.addEventListener('paste', (event) => {
  const file = firstImage(event.clipboardData.files);
  if (file) scoreFile(file);
});
