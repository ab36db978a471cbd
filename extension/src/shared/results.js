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
  lines.push(
    result.source === 'server'
      ? `Answer from the server (${modelText(result.model)}).`
      : `Scored in this browser (${modelText(result.model)}).`,
  );
  if (result.fallback) {
    lines.push(
      `Asked the server because ${fallbackReasonText(result.fallback.reason)}: ${result.fallback.message}`,
    );
  }
  return lines.join('\n');
}

export function modelText(model) {
  if (!model?.name) {
    return 'model unknown';
  }
  return model.version ? `${model.name} ${model.version}` : model.name;
}
