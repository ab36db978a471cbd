// A pool of scorer workers (scorer-worker.js), each with its own copy of the
// model, so images are decoded and scored on several cores at once and off
// the offscreen document's thread. Each worker is single-threaded on small
// machines: threaded wasm splits every layer across cores and its threads
// spin-wait on each other, which on 2 busy cores took 2-3x the time of one
// thread (8.8-15.8 s against 4.4-5.6 s for a 50-face page), while two
// independent images need no syncs at all.
//
//   const pool = await createScorerPool({ workerUrl, modelBaseUrl });
//   const { faces, image, timings } = await pool.scoreBlob(blob, { priority });
//
// The pool looks like lib/scorer.js's scorer (info, backend, threads) plus
// `workers`, and takes image Blobs, not ImageData: the worker decodes them.

// two workers: the 2-core machines use both cores; past two, more
// cores go to each worker's threads, which cost no second copy of the model
// and wasm heap (tens of MB a worker)
const MAX_WORKERS = 2;
// up to this many cores every worker computes on one thread: with fewer,
// threads of a layer would share cores with the other worker and spin-wait
const SINGLE_THREAD_MAX_CORES = 4;
// a worker that has not answered an image in this long is stuck (an image
// takes 20-300 ms on 2 busy cores): it is replaced, and the image fails
// well before the content script gives up on an answer (60 s)
const ANSWER_TIMEOUT_MS = 30000;
// a worker that has not loaded the model in this long will not (a good start
// takes about 1 s; 2 workers on 2 cores busy with training, several)
const START_TIMEOUT_MS = 60000;

/** How many workers for `cores` logical cores: one a core, at most MAX_WORKERS. */
export function poolSize(cores) {
  return Math.max(1, Math.min(MAX_WORKERS, cores || 1));
}

/** Wasm threads for each of `size` workers: one on small machines, else a share of the cores less one. */
export function threadsPerWorker(cores, size) {
  if (!cores || cores <= SINGLE_THREAD_MAX_CORES) {
    return 1;
  }
  // lib/scorer.js caps this again at its WASM_MAX_THREADS
  return Math.max(1, Math.floor((cores - 1) / size));
}

/** Reject with `message` if `promise` has not settled within `ms`. */
function timeLimit(promise, ms, message) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

let lockCount = 0;

/**
 * Start `size` workers (default poolSize of this machine's cores), each
 * loading the model from modelBaseUrl on wasm. Resolves once the first is
 * ready, so images are scored while the others still load; rejects if none
 * starts (no module workers, no wasm), and the caller scores in its own
 * document instead. A worker that crashes, ends or hangs is replaced, and the
 * image it held fails with an error that says so.
 */
export function createScorerPool({
  workerUrl,
  modelBaseUrl,
  cores = navigator.hardwareConcurrency,
  size = poolSize(cores),
}) {
  const maxThreads = threadsPerWorker(cores, size);
  // images no worker has taken yet: [{ blob, resolve, reject }], 'high' first
  const waiting = [];
  // one a worker: { state } of the worker in it now (a replacement takes its slot)
  const slots = [];
  let disposed = false;

  /** A worker in `slot`; resolves with its 'ready' message, rejects if it never gets there. */
  function startWorker(slot) {
    // unique per worker, and per document: a lock is held page-wide
    const lockName = `scorer-worker-${Date.now()}-${lockCount++}`;
    const worker = new Worker(workerUrl, { type: 'module' });
    const state = { worker, busy: null, ready: false, dead: false, end: null };
    slot.state = state;
    let started;
    let failedToStart;
    const startup = new Promise((resolve, reject) => {
      started = resolve;
      failedToStart = reject;
    });

    // the one way a worker goes: its image fails, and a worker that got
    // going is replaced
    const end = (reason) => {
      if (state.dead) {
        return;
      }
      state.dead = true;
      worker.terminate();
      failedToStart(new Error(`scorer worker ${reason}`));
      if (state.busy) {
        clearTimeout(state.busy.timer);
        state.busy.reject(
          new Error(
            `the scorer worker ${reason} while checking this image; ` +
              'check it again to retry',
          ),
        );
        state.busy = null;
      }
      // only a worker that got going is replaced: one that cannot start
      // would fail again, in a loop
      if (state.ready && !disposed) {
        console.warn(`scorer-pool: a worker ${reason}; starting another`);
        startWorker(slot).catch((error) =>
          console.warn('scorer-pool: its replacement did not start', error),
        );
      }
      dispatch();
    };
    state.end = end;

    worker.addEventListener('error', (event) => {
      end(`crashed (${event.message || 'could not load'})`);
    });
    worker.addEventListener('messageerror', () =>
      end('sent a message that could not be read'),
    );
    worker.addEventListener('message', ({ data }) => {
      switch (data.type) {
        case 'locked':
          // granted once the worker is gone, however it went
          navigator.locks.request(lockName, () => end('stopped'));
          break;
        case 'ready':
          state.ready = true;
          started(data);
          dispatch();
          break;
        case 'failed':
          end(`could not load the model (${data.error})`);
          break;
        case 'scored': {
          const request = state.busy;
          if (!request || request.id !== data.id) {
            return;
          }
          clearTimeout(request.timer);
          state.busy = null;
          if (data.error) {
            request.reject(new Error(data.error));
          } else {
            const { faces, image, timings } = data;
            request.resolve({ faces, image, timings });
          }
          dispatch();
          break;
        }
        default:
          console.warn(`scorer-pool: unknown message type ${data.type}`);
      }
    });
    worker.postMessage({ type: 'start', modelBaseUrl, maxThreads, lockName });
    return timeLimit(
      startup,
      START_TIMEOUT_MS,
      `scorer worker did not load the model within ${START_TIMEOUT_MS / 1000} s`,
    ).catch((error) => {
      end('did not start');
      throw error;
    });
  }

  let requestIds = 0;

  /** Hand waiting images to idle workers, highest priority first. */
  function dispatch() {
    for (const { state } of slots) {
      if (!waiting.length) {
        return;
      }
      if (state.ready && !state.dead && !state.busy) {
        const request = waiting.shift();
        request.id = ++requestIds;
        request.timer = setTimeout(
          () => state.end(`gave no answer in ${ANSWER_TIMEOUT_MS / 1000} s`),
          ANSWER_TIMEOUT_MS,
        );
        state.busy = request;
        state.worker.postMessage({
          type: 'score',
          id: request.id,
          blob: request.blob,
        });
      }
    }
    // no worker left, none starting: nothing will take these
    if (slots.every(({ state }) => state.dead)) {
      for (const request of waiting.splice(0)) {
        request.reject(new Error('no scorer worker is running'));
      }
    }
  }

  /** { faces, image, timings } for an image Blob; priority 'high' jumps the queue. */
  function scoreBlob(blob, { priority = 'low' } = {}) {
    return new Promise((resolve, reject) => {
      const request = { blob, resolve, reject };
      if (priority === 'high') {
        waiting.unshift(request);
      } else {
        waiting.push(request);
      }
      dispatch();
    });
  }

  function dispose() {
    disposed = true;
    for (const { state } of slots) {
      state.worker.terminate();
    }
  }

  for (let i = 0; i < size; i += 1) {
    slots.push({});
  }
  // all at once: started one after the other (the second once the first was
  // ready), a fresh browser's 50-face page took 3040 ms against 2515-2691
  const starts = slots.map((slot) => startWorker(slot));
  // the first worker ready answers for all: they load the same model
  const ready = Promise.any(starts).catch((error) => {
    dispose();
    throw new Error(
      `no scorer worker started (${error.errors.map((e) => e.message).join('; ')})`,
    );
  });
  for (const start of starts) {
    start.catch((error) => console.warn('scorer-pool:', error.message));
  }
  return ready.then(({ info, backend, threads }) => ({
    info,
    backend,
    threads,
    workers: size,
    scoreBlob,
    dispose,
  }));
}
