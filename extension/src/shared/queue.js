// Small helpers for the offscreen document: a task queue with a concurrency
// limit (high-priority tasks jump the line) and a size-bounded cache.

export class TaskQueue {
  constructor(limit) {
    this.limit = limit;
    this.running = 0;
    this.waiting = [];
  }

  /** Run `task()` when a slot is free; priority 'high' puts it first in line. */
  run(task, { priority = 'low' } = {}) {
    return new Promise((resolve, reject) => {
      const entry = { task, resolve, reject };
      if (priority === 'high') {
        this.waiting.unshift(entry);
      } else {
        this.waiting.push(entry);
      }
      this.next();
    });
  }

  next() {
    while (this.running < this.limit && this.waiting.length) {
      const { task, resolve, reject } = this.waiting.shift();
      this.running += 1;
      Promise.resolve()
        .then(task)
        .then(resolve, reject)
        .finally(() => {
          this.running -= 1;
          this.next();
        });
    }
  }
}

/** A Map that forgets its oldest entries past `maxEntries`. */
export class BoundedCache {
  constructor(maxEntries) {
    this.maxEntries = maxEntries;
    this.map = new Map();
  }

  get(key) {
    const value = this.map.get(key);
    if (value !== undefined) {
      // refresh: most recently used goes last
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key, value) {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.maxEntries) {
      this.map.delete(this.map.keys().next().value);
    }
  }

  delete(key) {
    this.map.delete(key);
  }

  /** The cached promise for `key`, or a new one from `make()`; failures are not kept. */
  remember(key, make) {
    let promise = this.get(key);
    if (!promise) {
      promise = make();
      this.set(key, promise);
      promise.catch(() => {
        if (this.map.get(key) === promise) {
          this.map.delete(key);
        }
      });
    }
    return promise;
  }
}
