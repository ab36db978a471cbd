// Auto-badges: watches the page's <img> elements and asks the extension to
// score the ones that are in view and big enough. The DOM is watched, not
// walked: a MutationObserver queues added nodes and handles them in batches,
// an IntersectionObserver says what is in view, and a capturing `load`
// listener catches every new picture an <img> shows (lazy loading, srcset
// and <picture> switches, src swaps). No pixel work happens here.
//
// Every badge settles: an image badged "scanning" is scored even if it
// scrolls away before its turn (images in view go first), and an answer that
// does not come within ANSWER_TIMEOUT_MS becomes an error that says so.

import { ExtensionGone, scoreImage } from '../shared/client.js';

// images smaller than this on either side get no badge (the rule)
const MIN_SIDE_PX = 64;
// requests one page keeps open: enough that downloads and decoding overlap
// the model's work (the offscreen document queues them), few enough that a
// page scrolled past does not fill the queue ahead of the next page
const MAX_IN_FLIGHT = 8;
// start scoring a little before an image scrolls into view
const VIEW_MARGIN = '200px';
// mutations are handled together after this pause, not one node at a time
const BATCH_DELAY_MS = 100;
// layout changes that fire no event still move badges within this time
const BACKSTOP_INTERVAL_MS = 1000;
// the longest a badge says "scanning": the offscreen document gives up on a
// download after 20 s, and a busy queue or a lost worker must not hold it for ever
const ANSWER_TIMEOUT_MS = 60000;

/** `promise`, or a rejection once `ms` have passed without an answer. */
function answerWithin(promise, ms) {
  let timer;
  const late = new Promise((resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${ms / 1000} s`)),
      ms,
    );
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function errorResult(message) {
  return { verdict: 'error', score: null, faces: [], error: message };
}

export function scoreAttribute(result) {
  return typeof result?.score === 'number' ? result.score.toFixed(4) : '';
}

export class Scanner {
  constructor({ overlay }) {
    this.overlay = overlay;
    this.running = false;
    this.tracked = new Set(); // every <img> observed
    this.visible = new Set(); // those in (or near) the viewport
    this.states = new WeakMap(); // img -> { src, result }
    this.results = new Map(); // src -> result, for this page's life
    this.pending = new Map(); // src -> Set of imgs waiting, in request order
    this.inFlight = 0;
    this.records = [];
    this.batchTimer = 0;
    this.frame = 0;
    this.gone = false;
    // answers asked for before the last rescore() are stale
    this.generation = 0;
    this.onLoad = (event) => {
      if (event.target instanceof HTMLImageElement) {
        this.track(event.target);
        this.consider(event.target);
      }
    };
    // a badged image whose new picture fails to load shows no picture at all
    this.onError = (event) => {
      const img = event.target;
      const state = img instanceof HTMLImageElement && this.states.get(img);
      const src = state && (img.currentSrc || img.src);
      if (src && src !== state.src) {
        this.states.set(img, { src, result: null });
        this.show(img, errorResult('the page could not load this picture'));
      }
    };
    this.onLayout = () => this.scheduleReposition();
  }

  start() {
    if (this.running || this.gone) {
      return;
    }
    this.running = true;
    this.io = new IntersectionObserver((entries) => this.onIntersect(entries), {
      rootMargin: VIEW_MARGIN,
    });
    this.mo = new MutationObserver((records) => {
      this.records.push(...records);
      this.batchTimer ||= setTimeout(
        () => this.handleMutations(),
        BATCH_DELAY_MS,
      );
    });
    this.mo.observe(document, { childList: true, subtree: true });
    for (const img of document.images) {
      this.track(img);
    }
    document.addEventListener('load', this.onLoad, true);
    document.addEventListener('error', this.onError, true);
    document.addEventListener('scroll', this.onLayout, {
      capture: true,
      passive: true,
    });
    window.addEventListener('resize', this.onLayout, { passive: true });
    this.backstop = setInterval(this.onLayout, BACKSTOP_INTERVAL_MS);
  }

  stop() {
    if (!this.running) {
      return;
    }
    this.running = false;
    this.io.disconnect();
    this.mo.disconnect();
    clearTimeout(this.batchTimer);
    this.batchTimer = 0;
    this.records = [];
    document.removeEventListener('load', this.onLoad, true);
    document.removeEventListener('error', this.onError, true);
    document.removeEventListener('scroll', this.onLayout, { capture: true });
    window.removeEventListener('resize', this.onLayout);
    clearInterval(this.backstop);
    this.overlay.clearBadges();
    for (const img of this.tracked) {
      this.states.delete(img);
      img.removeAttribute('data-dfd-verdict');
      img.removeAttribute('data-dfd-score');
    }
    this.tracked.clear();
    this.visible.clear();
    this.pending.clear();
  }

  /** Forget every verdict (settings changed) and score every badged image again. */
  rescore() {
    this.generation += 1;
    this.results.clear();
    this.pending.clear();
    for (const img of this.tracked) {
      const state = this.states.get(img);
      this.states.delete(img);
      if (state) {
        this.enqueue(img, state.src);
      }
    }
  }

  isVisible(img) {
    return this.visible.has(img);
  }

  track(img) {
    if (!this.running || this.tracked.has(img)) {
      return;
    }
    this.tracked.add(img);
    this.io.observe(img);
    // put back in the page: its badge comes back, scanning or final
    const state = this.states.get(img);
    if (state) {
      this.show(img, state.result);
    }
  }

  /** Out of the page: its badge goes, its state stays (an answer still lands). */
  untrack(img) {
    this.tracked.delete(img);
    this.visible.delete(img);
    this.io?.unobserve(img);
    this.overlay.removeBadge(img);
  }

  handleMutations() {
    this.batchTimer = 0;
    const records = this.records;
    this.records = [];
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node.nodeType !== Node.ELEMENT_NODE || this.overlay.isOurs(node)) {
          continue;
        }
        if (node instanceof HTMLImageElement) {
          this.track(node);
        } else if (node.firstElementChild) {
          for (const img of node.getElementsByTagName('img')) {
            this.track(img);
          }
        }
      }
    }
    this.scheduleReposition();
  }

  onIntersect(entries) {
    for (const entry of entries) {
      const img = entry.target;
      if (entry.isIntersecting) {
        this.visible.add(img);
        this.consider(img, entry.boundingClientRect);
      } else {
        this.visible.delete(img);
      }
    }
    this.scheduleReposition();
  }

  /** Score `img` if it is in view, loaded, big enough and shows a new picture. */
  consider(img, rect) {
    if (!this.running || !this.visible.has(img)) {
      return;
    }
    if (!img.complete || img.naturalWidth === 0) {
      return; // its `load` event brings it back
    }
    const box = rect ?? img.getBoundingClientRect();
    if (box.width < MIN_SIDE_PX || box.height < MIN_SIDE_PX) {
      return;
    }
    const src = img.currentSrc || img.src;
    if (src && this.states.get(img)?.src !== src) {
      this.enqueue(img, src);
    }
  }

  /** Badge `img` for the picture at `src`: its known verdict, or scanning until scored. */
  enqueue(img, src) {
    this.states.set(img, { src, result: null });
    const known = this.results.get(src);
    if (known) {
      this.show(img, known);
      return;
    }
    this.show(img, null);
    if (!this.pending.has(src)) {
      this.pending.set(src, new Set());
    }
    this.pending.get(src).add(img);
    this.pump();
  }

  /** The next picture to send: the first one an image in view waits for, else the oldest. */
  nextPending() {
    for (const [src, imgs] of this.pending) {
      for (const img of imgs) {
        if (this.visible.has(img)) {
          return src;
        }
      }
    }
    return this.pending.keys().next().value;
  }

  /** Send queued images while fewer than MAX_IN_FLIGHT requests are open. */
  pump() {
    while (this.inFlight < MAX_IN_FLIGHT && this.pending.size) {
      const src = this.nextPending();
      const waiting = [...this.pending.get(src)].filter(
        (img) => this.states.get(img)?.src === src,
      );
      this.pending.delete(src);
      if (!waiting.length) {
        continue; // each shows another picture now
      }
      // a badge that said scanning is scored even if its image scrolled away
      this.inFlight += 1;
      const generation = this.generation;
      answerWithin(scoreImage(src), ANSWER_TIMEOUT_MS)
        .then(
          (result) => {
            if (generation === this.generation) {
              this.results.set(src, result);
            }
            return result;
          },
          (error) => {
            if (error instanceof ExtensionGone) {
              this.gone = true;
              this.stop();
            }
            return errorResult(error.message);
          },
        )
        .then((result) => {
          if (generation !== this.generation) {
            return; // rescore() queued these images again
          }
          for (const img of waiting) {
            if (this.states.get(img)?.src === src) {
              this.show(img, result);
            }
          }
        })
        .finally(() => {
          this.inFlight -= 1;
          this.pump();
        });
    }
  }

  /** Record a result for `img` (from the scan or from the panel). */
  record(img, src, result) {
    this.results.set(src, result);
    this.states.set(img, { src, result });
    this.show(img, result);
  }

  show(img, result) {
    const state = this.states.get(img);
    if (state) {
      state.result = result;
    }
    img.setAttribute('data-dfd-verdict', result?.verdict ?? 'scanning');
    img.setAttribute('data-dfd-score', scoreAttribute(result));
    if (this.running) {
      this.overlay.setBadge(img, result);
    }
  }

  scheduleReposition() {
    this.frame ||= requestAnimationFrame(() => {
      this.frame = 0;
      this.reposition();
    });
  }

  reposition() {
    for (const img of this.tracked) {
      if (!img.isConnected) {
        this.untrack(img);
      }
    }
    // an image that grew past MIN_SIDE_PX fires no intersection change
    for (const img of this.visible) {
      if (!this.states.has(img)) {
        this.consider(img);
      }
    }
    this.overlay.reposition();
  }

  /** This page's counts for the popup. */
  stats() {
    const counts = { scanned: 0, fake: 0, uncertain: 0, scanning: 0 };
    for (const img of this.tracked) {
      const result = this.states.get(img)?.result;
      if (!this.states.has(img) || !img.isConnected) {
        continue;
      }
      if (!result) {
        counts.scanning += 1;
        continue;
      }
      counts.scanned += 1;
      if (result.verdict === 'fake' || result.verdict === 'uncertain') {
        counts[result.verdict] += 1;
      }
    }
    return counts;
  }
}
