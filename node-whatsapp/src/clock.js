'use strict';

/**
 * The time source used by the service. Tests inject a fake one.
 * @typedef {object} Clock
 * @property {() => number} now milliseconds since the epoch
 * @property {(fn: () => void, ms: number) => any} setTimeout
 * @property {(handle: any) => void} clearTimeout
 */

/** @type {Clock} */
const systemClock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle),
});

/**
 * Race a promise against a deadline. The timer is cleared as soon as the
 * promise settles.
 * @template T
 * @param {Promise<T>} promise
 * @param {number} ms
 * @param {() => Error} onTimeout builds the error thrown when time runs out
 * @param {Clock} [clock]
 * @returns {Promise<T>}
 */
function withDeadline(promise, ms, onTimeout, clock = systemClock) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const handle = clock.setTimeout(() => {
      if (settled) return;
      settled = true;
      reject(onTimeout());
    }, ms);
    promise.then(
      (value) => {
        if (settled) return;
        settled = true;
        clock.clearTimeout(handle);
        resolve(value);
      },
      (err) => {
        if (settled) return;
        settled = true;
        clock.clearTimeout(handle);
        reject(err);
      },
    );
  });
}

module.exports = { systemClock, withDeadline };
