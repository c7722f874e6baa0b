'use strict';

/**
 * In-memory Idempotency-Key store.
 *
 * A key is "in flight" from begin() until complete(), release() or
 * markUnknown(). Successful results are stored (complete()); they are kept
 * for ttlMs and replayed for a repeated key. A send that failed before
 * reaching WhatsApp calls release(), so a retry with the same key tries
 * again. A send whose outcome is unknown (TIMEOUT_AFTER_SEND, INTERNAL after
 * the driver was asked to send) calls markUnknown(): for ttlMs a retry with
 * that key is refused instead of sent twice, unless the late confirmation
 * arrives (storeIfAbsent), which turns the key into a replayable result. A
 * key reused with a different request fingerprint is a mismatch.
 *
 * @typedef {{now: () => number}} Clock
 * @typedef {{state: 'in_flight', fingerprint: string}
 *   | {state: 'done', fingerprint: string, result: any, expiresAt: number}
 *   | {state: 'unknown', fingerprint: string, expiresAt: number}} Entry
 * @typedef {{kind: 'new'}
 *   | {kind: 'in_flight'}
 *   | {kind: 'mismatch'}
 *   | {kind: 'unknown'}
 *   | {kind: 'replay', result: any}} BeginOutcome
 */
class IdempotencyStore {
  /**
   * @param {{ttlMs: number, clock: Clock}} options
   */
  constructor({ ttlMs, clock }) {
    this.ttlMs = ttlMs;
    this.clock = clock;
    /** @type {Map<string, Entry>} */
    this.entries = new Map();
  }

  /**
   * Claim a key for a request, or report why it cannot be claimed.
   * @param {string} key
   * @param {string} fingerprint hash of the normalised request
   * @returns {BeginOutcome}
   */
  begin(key, fingerprint) {
    this.sweep();
    const entry = this.entries.get(key);
    if (entry) {
      if (entry.fingerprint !== fingerprint) return { kind: 'mismatch' };
      if (entry.state === 'in_flight') return { kind: 'in_flight' };
      if (entry.state === 'unknown') return { kind: 'unknown' };
      return { kind: 'replay', result: entry.result };
    }
    this.entries.set(key, { state: 'in_flight', fingerprint });
    return { kind: 'new' };
  }

  /**
   * Store the successful result of an in-flight key.
   * @param {string} key
   * @param {any} result
   */
  complete(key, result) {
    const entry = this.entries.get(key);
    if (!entry) return;
    // Re-insert so that the Map stays ordered by completion time.
    this.entries.delete(key);
    this.entries.set(key, {
      state: 'done',
      fingerprint: entry.fingerprint,
      result,
      expiresAt: this.clock.now() + this.ttlMs,
    });
  }

  /**
   * Forget an in-flight key after a failed attempt.
   * @param {string} key
   */
  release(key) {
    const entry = this.entries.get(key);
    if (entry && entry.state === 'in_flight') this.entries.delete(key);
  }

  /**
   * Keep an in-flight key whose send may have reached WhatsApp, so a retry
   * is refused rather than sent twice.
   * @param {string} key
   */
  markUnknown(key) {
    const entry = this.entries.get(key);
    if (!entry || entry.state !== 'in_flight') return;
    this.entries.delete(key);
    this.entries.set(key, { state: 'unknown', fingerprint: entry.fingerprint, expiresAt: this.clock.now() + this.ttlMs });
  }

  /**
   * Store a result that arrived late (after its request already failed):
   * it resolves a key marked unknown, or a key nobody holds; a key claimed
   * again meanwhile is left alone.
   * @param {string} key
   * @param {string} fingerprint
   * @param {any} result
   */
  storeIfAbsent(key, fingerprint, result) {
    const entry = this.entries.get(key);
    if (entry && entry.state !== 'unknown') return;
    this.entries.delete(key);
    this.entries.set(key, { state: 'done', fingerprint, result, expiresAt: this.clock.now() + this.ttlMs });
  }

  /** Drop expired results and unknown outcomes (ordered by completion time). */
  sweep() {
    const now = this.clock.now();
    for (const [key, entry] of this.entries) {
      if (entry.state === 'in_flight') continue;
      if (entry.expiresAt > now) break;
      this.entries.delete(key);
    }
  }

  /** Number of keys held (in flight or done). */
  get size() {
    return this.entries.size;
  }

  /** Nothing to release: the keys die with the process. */
  close() {}
}

module.exports = { IdempotencyStore, MemoryIdempotencyStore: IdempotencyStore };
