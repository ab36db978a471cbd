// How scores become verdicts: the rules lib/scorer.js re-exports, in a module
// of their own so the offscreen document can judge scores from its scorer
// workers without loading TF.js itself.

/** The verdict for one score: 'uncertain' inside [low, high), else fake at/above the threshold. */
export function verdictFor(score, threshold, band) {
  const [low, high] = band;
  if (low <= score && score < high) {
    return 'uncertain';
  }
  return score >= threshold ? 'fake' : 'real';
}

/** The band a face is judged with: black-and-white faces have their own. */
export function bandFor(face, band, greyBand) {
  return face.greyscale && greyBand ? greyBand : band;
}

/**
 * An image is as suspicious as its most suspicious face:
 * { verdict, score } with verdict 'no_face' and score null when there is none.
 * greyBand (optional) judges faces marked greyscale, as band does the rest.
 */
export function imageVerdict(faces, threshold, band, greyBand) {
  if (!faces.length) {
    return { verdict: 'no_face', score: null };
  }
  let worst = faces[0];
  for (const face of faces) {
    if (face.score > worst.score) {
      worst = face;
    }
  }
  return {
    verdict: verdictFor(worst.score, threshold, bandFor(worst, band, greyBand)),
    score: worst.score,
  };
}
