// The result of checking one image, as every context sees it:
//   { verdict: 'fake'|'real'|'uncertain'|'no-face'|'error', score (P(fake) or
//     null), source: 'browser'|'server', faces: [{ box, score, verdict,
//     confidence?, heatmap? }], image: { width, height }, model: { name,
//     version }, timings?, browser? (the in-browser verdict when the server
//     answered), fallback? ({ reason, status, message } when the server was
//     asked and did not answer), error? }
// plus the words the badge and the panel use for it.

export const VERDICTS = [
  'scanning',
  'real',
  'fake',
  'uncertain',
  'no-face',
  'error',
];

/** 'no_face' (scorer, backend) -> 'no-face' (data-dfd-verdict). */
export function verdictName(verdict) {
  return verdict === 'no_face' ? 'no-face' : verdict;
}

export function percent(score) {
  return `${Math.round(score * 100)}%`;
}

const LABELS = {
  scanning: 'Scanning…',
  real: 'Real',
  fake: 'Fake',
  uncertain: 'Uncertain',
  'no-face': 'No face',
  error: 'Error',
};

const FALLBACK_REASONS = {
  uncertain: 'the in-browser score is uncertain',
  'small-faces': 'the image is large and its faces are small',
  'browser-failed': 'in-browser scoring failed',
};

export function fallbackReasonText(reason) {
  return FALLBACK_REASONS[reason] ?? reason;
}

/** The badge's words: verdict, score where it means something, and source. */
export function badgeText(result) {
  if (!result) {
    return LABELS.scanning;
  }
  const parts = [LABELS[result.verdict] ?? result.verdict];
  if (
    typeof result.score === 'number' &&
    (result.verdict === 'fake' || result.verdict === 'uncertain')
  ) {
    parts[0] += ` ${percent(result.score)}`;
  }
  if (result.source === 'server') {
    parts.push('server');
  } else if (result.fallback) {
    parts.push(
      result.fallback.status === 'refused' ? 'server refused' : 'server down',
    );
  }
  return parts.join(' · ');
}

/** The badge's tooltip: a sentence or two. */
export function badgeTitle(result) {
  if (!result) {
    return 'Checking this image for a deepfake face…';
  }
  const lines = [];
  if (result.verdict === 'error') {
    lines.push(`Could not check this image: ${result.error}`);
  } else if (result.verdict === 'no-face') {
    lines.push('No face found in this image.');
  } else {
    lines.push(
      `${LABELS[result.verdict]}: the most suspicious face scores ${percent(
        result.score,
      )} fake (${result.faces.length} face${result.faces.length === 1 ? '' : 's'}).`,
    );
  }
  // an image that never reached a model (not loaded, no answer) was scored nowhere
  if (result.model || result.source === 'server') {
    lines.push(
      result.source === 'server'
        ? `Answer from the server (${modelText(result.model)}).`
        : `Scored in this browser (${modelText(result.model)}).`,
    );
  }
  if (result.fallback) {
    lines.push(
      `Asked the server because ${fallbackReasonText(result.fallback.reason)}: ${result.fallback.message}`,
    );
  }
  const mark = provenanceMark(result);
  if (mark) {
    lines.push(MARK_TITLE[mark]);
  }
  return lines.join('\n');
}

export function modelText(model) {
  if (!model?.name) {
    return 'model unknown';
  }
  return model.version ? `${model.name} ${model.version}` : model.name;
}

// ---------------------------------------------------------------- provenance
// What the file says about itself (result.provenance: the server's object, or
// the browser's, which leaves the signature unchecked): shown beside the
// verdict, never mixed into it.

export const DECLARED_AI_TEXT = 'AI-made (declared by the file)';

const CREDENTIAL_STATES = {
  none: 'none',
  present:
    'present (summarised in this browser; a full-resolution check on your server validates the signature)',
  trusted: 'present, signed by a trusted signer',
  valid: 'present, signature valid',
  untrusted:
    'present, signature valid but the signer is on no trust list the server knows',
  invalid:
    'present but invalid: the file changed after signing, or the signature fails',
  unreadable: 'present but could not be read',
};

/** 'ai' (the file declares AI), 'credentials' (it carries Content Credentials) or ''. */
export function provenanceMark(result) {
  const p = result?.provenance;
  if (!p) {
    return '';
  }
  if (p.declares_ai) {
    return 'ai';
  }
  return p.content_credentials?.state !== 'none' ? 'credentials' : '';
}

export const MARK_TEXT = { ai: 'AI', credentials: 'CR' };
export const MARK_TITLE = {
  ai: 'The file declares that it was made with AI.',
  credentials: 'The file carries Content Credentials.',
};

/** [kind, text] lines for "What the file says". */
export function provenanceLines(p) {
  const lines = [];
  const cc = p.content_credentials;
  const signer = cc.signer ? ` (signed by ${cc.signer})` : '';
  lines.push([
    'credentials',
    `Content Credentials: ${CREDENTIAL_STATES[cc.state] ?? cc.state}${signer}`,
  ]);
  if (cc.claim_generator) {
    lines.push(['claim-generator', `Written by: ${cc.claim_generator}`]);
  }
  for (const action of cc.actions) {
    const software = action.software ? ` (${action.software})` : '';
    lines.push(['action', `Action: ${action.description}${software}`]);
  }
  for (const problem of cc.problems) {
    lines.push(['problem', problem]);
  }
  if (p.declared_source) {
    lines.push([
      'source',
      `Declared source (IPTC): ${p.declared_source.description}`,
    ]);
  }
  if (p.generator) {
    const { tool, model, prompt } = p.generator;
    lines.push([
      'generator',
      `Generator settings: ${tool}${model ? `, model ${model}` : ''}${
        prompt ? `, prompt "${prompt}"` : ''
      }`,
    ]);
  }
  if (p.camera) {
    const camera = [p.camera.make, p.camera.model].filter(Boolean).join(' ');
    lines.push(['camera', `Camera: ${camera}`]);
  }
  if (p.software) {
    lines.push(['software', `Software: ${p.software}`]);
  }
  if (p.nothing_declared) {
    lines.push(['nothing', 'Nothing declared.']);
  }
  for (const problem of p.problems) {
    lines.push(['problem', problem]);
  }
  lines.push(['note', p.note]);
  return lines;
}

// reverse image search: each opens the site with the image's URL, on a click only
export const IMAGE_SEARCHES = [
  ['Google Lens', 'https://lens.google.com/uploadbyurl?url='],
  ['TinEye', 'https://tineye.com/search?url='],
  [
    'Bing',
    'https://www.bing.com/images/search?view=detailv2&iss=sbi&q=imgurl:',
  ],
  ['Yandex', 'https://yandex.com/images/search?rpt=imageview&url='],
];

/** [name, href] per search site; none for data:/blob: images. */
export function imageSearchLinks(srcUrl) {
  if (!/^https?:\/\//i.test(srcUrl ?? '')) {
    return [];
  }
  return IMAGE_SEARCHES.map(([name, base]) => [
    name,
    base + encodeURIComponent(srcUrl),
  ]);
}
