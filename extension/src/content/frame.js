// "Check this frame": the picture a <video> shows right now, as a PNG data
// URL the panel scores like any data: image. Read from a canvas where the
// video's pixels are readable; where they are not (a video from another site
// without CORS taints the canvas), cropped from a capture of the visible tab,
// which the service worker takes (activeTab, granted by the menu click).

// a pixel no brighter than this in any channel is black: limited-range video
// black is 16, and a DRM-protected player captures as 0
const BLACK_LEVEL = 16;
// the frame is judged black on a copy this small: enough to see any picture
const BLACK_PROBE_SIDE = 64;

/** The captured picture: { dataUrl, black, width, height, via: 'canvas'|'capture' }. */
export async function grabFrame(video, captureTab) {
  if (!video.videoWidth || !video.videoHeight) {
    throw new Error(
      'The video shows no picture yet; play it to a frame, then check again.',
    );
  }
  let canvas = drawVideo(video);
  let via = 'canvas';
  if (!readable(canvas)) {
    if (window !== window.top) {
      // the tab's capture has no way to place a frame inside another site's page
      throw new Error(
        'This video comes from another site inside an embedded frame; open it in its own tab to check a frame.',
      );
    }
    canvas = await cropCapture(video, await captureTab());
    via = 'capture';
  }
  return {
    dataUrl: canvas.toDataURL('image/png'),
    black: isBlack(canvas),
    width: canvas.width,
    height: canvas.height,
    via,
  };
}

function drawVideo(video) {
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  return canvas;
}

/** False for a canvas tainted by another site's pixels: reading it throws. */
function readable(canvas) {
  try {
    canvas.getContext('2d').getImageData(0, 0, 1, 1);
    return true;
  } catch (error) {
    if (error.name === 'SecurityError') {
      return false;
    }
    throw error;
  }
}

function dataUrlToBlob(dataUrl) {
  const [head, body] = dataUrl.split(',', 2);
  const bytes = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
  return new Blob([bytes], { type: head.slice(5).split(';')[0] });
}

/**
 * The video's box cut from a capture of the visible tab. The capture is in
 * device pixels: devicePixelRatio (page zoom included) per CSS pixel, read
 * off the capture itself so a zoomed page crops right too.
 */
async function cropCapture(video, screenshotUrl) {
  // decoded from bytes, not loaded as an <img>: the page's CSP has no say
  const shot = await createImageBitmap(dataUrlToBlob(screenshotUrl));
  const scale = shot.width / window.innerWidth || window.devicePixelRatio;
  const box = video.getBoundingClientRect();
  // only the part of the video inside the viewport is on the capture
  const left = Math.max(box.left, 0);
  const top = Math.max(box.top, 0);
  const right = Math.min(box.right, window.innerWidth);
  const bottom = Math.min(box.bottom, window.innerHeight);
  if (right - left < 1 || bottom - top < 1) {
    shot.close();
    throw new Error('Scroll the video into view, then check the frame again.');
  }
  const canvas = document.createElement('canvas');
  canvas.width = Math.round((right - left) * scale);
  canvas.height = Math.round((bottom - top) * scale);
  canvas
    .getContext('2d')
    .drawImage(
      shot,
      Math.round(left * scale),
      Math.round(top * scale),
      canvas.width,
      canvas.height,
      0,
      0,
      canvas.width,
      canvas.height,
    );
  shot.close();
  return canvas;
}

/** Every pixel at most BLACK_LEVEL: a black frame, or a protected one. */
function isBlack(canvas) {
  const probe = document.createElement('canvas');
  probe.width = Math.min(BLACK_PROBE_SIDE, canvas.width);
  probe.height = Math.min(BLACK_PROBE_SIDE, canvas.height);
  const context = probe.getContext('2d', { willReadFrequently: true });
  context.drawImage(canvas, 0, 0, probe.width, probe.height);
  const { data } = context.getImageData(0, 0, probe.width, probe.height);
  for (let i = 0; i < data.length; i += 4) {
    if (
      data[i] > BLACK_LEVEL ||
      data[i + 1] > BLACK_LEVEL ||
      data[i + 2] > BLACK_LEVEL
    ) {
      return false;
    }
  }
  return true;
}

// "Check 10 frames": this many, this far apart in the video's time
export const STRIP_FRAMES = 10;
export const STRIP_GAP_S = 0.5;
// a player that ignores seeking gives up after this long
const SEEK_TIMEOUT_MS = 3000;
// Chrome allows two captures of a tab a second
const CAPTURE_GAP_MS = 550;

/** Resolves once the page has painted twice: a seeked frame is on screen. */
export const nextPaint = () =>
  new Promise((resolve) =>
    requestAnimationFrame(() => requestAnimationFrame(resolve)),
  );

/** captureTab, spaced out to Chrome's quota of tab captures. */
function spacedOut(captureTab) {
  let last = -Infinity;
  return async () => {
    await sleep(last + CAPTURE_GAP_MS - performance.now());
    last = performance.now();
    return captureTab();
  };
}

function seekTo(video, seconds) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      video.removeEventListener('seeked', done);
      reject(
        new Error(
          'The page does not let this video seek; play it, then check again.',
        ),
      );
    }, SEEK_TIMEOUT_MS);
    function done() {
      clearTimeout(timer);
      resolve();
    }
    video.addEventListener('seeked', done, { once: true });
    video.currentTime = seconds;
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * STRIP_FRAMES frames STRIP_GAP_S apart: the next seconds of a playing video
 * as it plays, or, for a paused one the page lets seek, from where it stands
 * (put back afterwards). Each as grabFrame gives it, with its `time`.
 */
export async function sampleFrames(video, anyCaptureTab) {
  const captureTab = spacedOut(anyCaptureTab);
  const frames = [];
  const grab = async () =>
    frames.push({
      time: video.currentTime,
      ...(await grabFrame(video, captureTab)),
    });
  if (!video.paused && !video.ended) {
    for (let i = 0; i < STRIP_FRAMES && !video.paused && !video.ended; i++) {
      const next =
        performance.now() + (STRIP_GAP_S * 1000) / (video.playbackRate || 1);
      await grab();
      await sleep(Math.max(0, next - performance.now()));
    }
    return frames;
  }
  if (!video.seekable.length) {
    throw new Error(
      'This paused video cannot seek; play it, then check 10 frames.',
    );
  }
  const start = video.currentTime;
  // a server without range requests leaves seekable short of the end; the duration still holds
  const end = Number.isFinite(video.duration)
    ? video.duration
    : video.seekable.end(video.seekable.length - 1);
  try {
    for (let i = 0; i < STRIP_FRAMES; i++) {
      const time = start + i * STRIP_GAP_S;
      if (time >= end) {
        break;
      }
      if (i > 0) {
        await seekTo(video, time);
        if (Math.abs(video.currentTime - time) > STRIP_GAP_S / 2) {
          break; // the player went elsewhere (a server without range requests cannot seek)
        }
        await nextPaint(); // a tab capture shows what is painted
      }
      await grab();
    }
  } finally {
    // the reader finds the video where they left it
    await seekTo(video, start).catch(() => {});
  }
  return frames;
}
