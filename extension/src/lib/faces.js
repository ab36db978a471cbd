// Face detection and cropping in the browser: scoring/faces.py, step for step.
//
// Every constant (detector input size, normalisation, anchors, passes, NMS,
// size rules, resize rule, crop margin) comes from model-info.json, which the
// converter writes from scoring.faces and shipped_model/config.json. The
// converter's parity test holds this file and scoring/faces.py together, so a
// change to one needs the same change to the other.
//
// Images here are ImageData-like { width, height, data } (RGBA bytes, as
// getImageData gives them; alpha is ignored), and tensors made from them are
// float32 [height, width, 3] in 0..255. Windows of an image are copied out of
// its bytes here: TF.js's wasm slice and pad took 2-3 ms for one face crop of
// a 224 px photo, a fifth of the classifier's own time. A "placed" image is a
// square of `side` x `side` zeros with the tensor `t` at (ox, oy):
// letterboxing and zero-padded crops stay that small until the square has
// been halved down to a few times the target size, so a 2000 px photo's
// 8000 px letterbox never exists as a tensor. The halving sums the same four
// pixels as Python's, zeros included, so the result is the same.

import * as tf from './tf.js';

/** Round half up, as Python's scoring._round (floor(v + 0.5)) does. */
export function roundHalfUp(v) {
  return Math.floor(v + 0.5);
}

/**
 * The w x h window of img whose top left is (x, y), as a float32 tensor
 * [h, w, 3]; `pad` zeros around it on every side when given ([top, bottom,
 * left, right]). The window lies inside the image.
 */
function windowOf(img, x, y, w, h, [top, bottom, left, right] = [0, 0, 0, 0]) {
  const rowLength = (left + w + right) * 3;
  const out = new Float32Array((top + h + bottom) * rowLength);
  const { data, width } = img;
  for (let row = 0; row < h; row += 1) {
    let src = ((y + row) * width + x) * 4;
    let dst = (top + row) * rowLength + left * 3;
    for (let col = 0; col < w; col += 1, src += 4, dst += 3) {
      out[dst] = data[src];
      out[dst + 1] = data[src + 1];
      out[dst + 2] = data[src + 2];
    }
  }
  return tf.tensor3d(out, [top + h + bottom, left + w + right, 3], 'float32');
}

/** The part of the side x side square at (x0, y0) that lies in img, or null. */
function inImage(img, x0, y0, side) {
  const sx0 = Math.max(x0, 0);
  const sy0 = Math.max(y0, 0);
  const sx1 = Math.min(x0 + side, img.width);
  const sy1 = Math.min(y0 + side, img.height);
  if (sx1 <= sx0 || sy1 <= sy0) {
    return null;
  }
  return { x: sx0, y: sy0, w: sx1 - sx0, h: sy1 - sy0 };
}

/**
 * The side x side window of img at (x0, y0), zeros where it leaves the image
 * (Python's _place), kept as a placed image: { t, ox, oy, side }.
 */
export function place(img, x0, y0, side) {
  const part = inImage(img, x0, y0, side);
  if (part === null) {
    return { t: null, ox: 0, oy: 0, side };
  }
  const { x, y, w, h } = part;
  return { t: windowOf(img, x, y, w, h), ox: x - x0, oy: y - y0, side };
}

/** The whole side x side window of img at (x0, y0), zeros outside the image. */
function square(img, x0, y0, side) {
  const part = inImage(img, x0, y0, side);
  if (part === null) {
    return tf.zeros([side, side, 3], 'float32');
  }
  const { x, y, w, h } = part;
  const top = y - y0;
  const left = x - x0;
  return windowOf(img, x, y, w, h, [
    top,
    side - top - h,
    left,
    side - left - w,
  ]);
}

// one axis of a halving step: the slice of the placed tensor to keep, the
// zeros to add before and after, and the offset after halving
function halveAxis(offset, length, side) {
  const end = Math.floor(side / 2) * 2; // an odd last row/column is dropped
  const start = offset - (offset % 2);
  const stop = Math.min(offset + length, end);
  if (stop <= offset) {
    return null;
  }
  return {
    keep: stop - offset,
    before: offset - start,
    after: (stop - start) % 2,
    offset: start / 2,
  };
}

/** 2x2 average of a placed image (Python's _halve; tf.avgPool 'valid'). */
export function halve(placed) {
  const side = Math.floor(placed.side / 2);
  if (placed.t === null) {
    return { t: null, ox: 0, oy: 0, side };
  }
  const [h, w] = placed.t.shape;
  const ay = halveAxis(placed.oy, h, placed.side);
  const ax = halveAxis(placed.ox, w, placed.side);
  if (ay === null || ax === null) {
    return { t: null, ox: 0, oy: 0, side };
  }
  const kept = tf.slice(placed.t, [0, 0, 0], [ay.keep, ax.keep, 3]);
  const padded = tf.pad(kept, [
    [ay.before, ay.after],
    [ax.before, ax.after],
    [0, 0],
  ]);
  const t = tf.avgPool(padded, 2, 2, 'valid');
  return { t, ox: ax.offset, oy: ay.offset, side };
}

/** The full side x side float32 tensor of a placed image. */
export function materialise(placed) {
  const { side } = placed;
  if (placed.t === null) {
    return tf.zeros([side, side, 3], 'float32');
  }
  const [h, w] = placed.t.shape;
  return tf.pad(placed.t, [
    [placed.oy, side - placed.oy - h],
    [placed.ox, side - placed.ox - w],
    [0, 0],
  ]);
}

/**
 * The side x side window of img at (x0, y0) resized to size x size float32
 * (Python's resize_square of its _place): halve while the side is at least
 * `resize.halve_at` times the target, then bilinear with half-pixel centres.
 */
export function resizeWindow(img, x0, y0, side, size, resize) {
  let squared;
  if (side < resize.halve_at * size) {
    // no halving: the square itself, zeros included, in one copy
    squared = square(img, x0, y0, side);
  } else {
    let p = place(img, x0, y0, side);
    while (p.side >= resize.halve_at * size) {
      p = halve(p);
    }
    squared = materialise(p);
  }
  return tf.image.resizeBilinear(
    squared,
    [size, size],
    resize.align_corners,
    resize.half_pixel_centers,
  );
}

// boxes (N x 4: x, y, w, h in detector pixels) and scores (N) for a square
function rawDetections(detector, img, x0, y0, side, det, resize) {
  return tf.tidy(() => {
    const size = det.input_size;
    const x = tf
      .div(resizeWindow(img, x0, y0, side, size, resize), det.input_divisor)
      .sub(det.input_offset);
    // the four outputs, in the order Python reads them (sorted by name):
    // scores 512x1, scores 384x1, regressors 512x16, regressors 384x16
    const [s512, s384, r512, r384] = detector
      .execute(x.expandDims(0), det.output_names)
      .map((t) => t.squeeze([0]));
    const raw = tf.concat(
      [tf.concat([s512, r512], 1), tf.concat([s384, r384], 1)],
      0,
    );
    const anchors = tf.tensor2d(det.anchors, undefined, 'float32');
    const centres = tf.add(tf.slice(raw, [0, 1], [-1, 2]), anchors);
    const sizes = tf.slice(raw, [0, 3], [-1, 2]);
    const boxes = tf.concat([tf.sub(centres, tf.div(sizes, 2)), sizes], 1);
    // Python clips the logits to +-80 only to keep numpy's exp from
    // overflowing; tf.sigmoid is stable, and the clip moves no score that
    // could reach a pass's min_score
    const scores = tf.sigmoid(tf.slice(raw, [0, 0], [-1, 1]).squeeze([1]));
    return { boxes, scores };
  });
}

// letterbox rgb so its long side is `fill` of a square, centred; detect
async function detectInSquare(detector, img, pass, det, resize) {
  const { width: w, height: h } = img;
  const side = roundHalfUp(Math.max(h, w) / pass.fill);
  const x0 = Math.floor((side - w) / 2);
  const y0 = Math.floor((side - h) / 2);
  const { boxes, scores } = tf.tidy(() =>
    rawDetections(detector, img, -x0, -y0, side, det, resize),
  );
  const corners = tf.tidy(() => {
    const [bx, by, bw, bh] = tf.unstack(boxes, 1);
    return tf.stack([by, bx, by.add(bh), bx.add(bw)], 1);
  });
  const keep = await tf.image.nonMaxSuppressionAsync(
    corners,
    scores,
    det.max_faces,
    det.nms_iou,
    pass.min_score,
  );
  const [boxData, scoreData, keepData] = await Promise.all([
    boxes.data(),
    scores.data(),
    keep.data(),
  ]);
  tf.dispose([boxes, scores, corners, keep]);

  const k = side / det.input_size;
  const minSide = Math.max(
    det.min_face_px,
    pass.min_face_share * Math.min(h, w),
  );
  const faces = [];
  for (const i of keepData) {
    const [bx, by, bw, bh] = Array.from(boxData.subarray(4 * i, 4 * i + 4));
    const x1 = Math.max(bx * k - x0, 0);
    const y1 = Math.max(by * k - y0, 0);
    const x2 = Math.min(bx * k - x0 + bw * k, w);
    const y2 = Math.min(by * k - y0 + bh * k, h);
    if (Math.max(x2 - x1, y2 - y1) >= minSide) {
      faces.push({ box: [x1, y1, x2 - x1, y2 - y1], confidence: scoreData[i] });
    }
  }
  return faces;
}

/**
 * Faces in an image (ImageData-like), surest first; [] when there is none
 * (Python's detect_faces). Each face is { box: [x, y, w, h], confidence }.
 */
export async function detectFaces(detector, img, info) {
  const det = info.face_detector;
  for (const pass of det.passes) {
    const faces = await detectInSquare(detector, img, pass, det, info.resize);
    if (faces.length) {
      return faces;
    }
  }
  return [];
}

/**
 * The square face crop the model sees: size x size x 3 float32 in 0..255
 * (Python's crop_face). Call inside tf.tidy.
 */
export function cropFace(img, box, margin, size, resize) {
  const [x, y, w, h] = box;
  const side = Math.max(roundHalfUp(Math.max(w, h) * (1 + 2 * margin)), 1);
  const x0 = roundHalfUp(x + w / 2 - side / 2);
  const y0 = roundHalfUp(y + h / 2 - side / 2);
  return resizeWindow(img, x0, y0, side, size, resize);
}

/**
 * The channel spread (max - min of R, G, B) that the top `topShare` of a
 * crop's pixels reach (Python's colour_spread): 0 for a black-and-white face,
 * tens for a colour one. A [size, size, 3] tensor in, a scalar tensor out.
 */
export function colourSpread(crop, topShare) {
  const spread = tf.sub(tf.max(crop, -1), tf.min(crop, -1)).reshape([-1]);
  const k = Math.max(1, Math.floor(spread.size * topShare));
  // the k-th largest, as np.partition picks it
  return tf.min(tf.topk(spread, k, false).values);
}
