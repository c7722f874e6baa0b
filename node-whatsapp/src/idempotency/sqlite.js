'use strict';

const fs = require('node:fs');
const path = require('node:path');
const Database = require('better-sqlite3');

/** Bump when the table changes shape; an older file is refused, never guessed at. */
const SCHEMA_VERSION = 1;

/**
 * Durable Idempotency-Key store in one SQLite file (better-sqlite3).
 *
 * Same meaning as the in-memory store (memory.js), but the keys, their
 * request fingerprint, state and expiry survive a restart. Every change is
 * one transaction, committed with synchronous=FULL, so the claim is on disk
 * before the send is attempted and the outcome is on disk right after it
 * settles. A key still "in flight" when the store is opened belonged to a
 * process that died mid-send: it becomes "unknown" (409 OUTCOME_UNKNOWN),
 * because that send may have reached WhatsApp.
 *
 * Size is bounded (maxKeys): when full, the entries closest to expiry go
 * first, results before unknown outcomes; keys in flight are never evicted.
 * The file is held with an exclusive lock, so a second service on the same
 * file fails at start instead of sharing keys unsafely.
 *
 * @typedef {import('./memory').BeginOutcome} BeginOutcome
 */
class SqliteIdempotencyStore {
  /**
   * @param {{file: string, ttlMs: number, maxKeys: number, clock: {now: () => number},
   *   logger?: import('pino').Logger}} options
   */
  constructor({ file, ttlMs, maxKeys, clock, logger }) {
    this.file = file;
    this.ttlMs = ttlMs;
    this.maxKeys = maxKeys;
    this.clock = clock;
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    // Create the file owner-only; SQLite gives its -wal file the same mode.
    fs.closeSync(fs.openSync(file, 'a', 0o600));
    fs.chmodSync(file, 0o600);
    const db = new Database(file, { timeout: 0 });
    this.db = db;
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      const version = db.pragma('user_version', { simple: true });
      if (version !== 0 && version !== SCHEMA_VERSION) {
        throw new Error(`${file} has idempotency schema ${version}, this service knows ${SCHEMA_VERSION}`);
      }
      db.exec(`
        CREATE TABLE IF NOT EXISTS idempotency_keys (
          key TEXT PRIMARY KEY,
          fingerprint TEXT NOT NULL,
          state TEXT NOT NULL CHECK (state IN ('in_flight', 'done', 'unknown')),
          result TEXT,
          expires_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS idempotency_keys_expiry ON idempotency_keys (expires_at);
        PRAGMA user_version = ${SCHEMA_VERSION};
      `);
    } catch (err) {
      db.close();
      throw err;
    }
    this.sql = {
      get: db.prepare('SELECT fingerprint, state, result FROM idempotency_keys WHERE key = ?'),
      insert: db.prepare(
        "INSERT INTO idempotency_keys (key, fingerprint, state, result, expires_at) VALUES (?, ?, 'in_flight', NULL, ?)",
      ),
      done: db.prepare("UPDATE idempotency_keys SET state = 'done', result = ?, expires_at = ? WHERE key = ?"),
      put: db.prepare(
        "INSERT OR REPLACE INTO idempotency_keys (key, fingerprint, state, result, expires_at) VALUES (?, ?, 'done', ?, ?)",
      ),
      release: db.prepare("DELETE FROM idempotency_keys WHERE key = ? AND state = 'in_flight'"),
      unknown: db.prepare(
        "UPDATE idempotency_keys SET state = 'unknown', expires_at = ? WHERE key = ? AND state = 'in_flight'",
      ),
      sweep: db.prepare("DELETE FROM idempotency_keys WHERE state != 'in_flight' AND expires_at <= ?"),
      count: db.prepare('SELECT count(*) AS n FROM idempotency_keys'),
      evict: db.prepare(
        `DELETE FROM idempotency_keys WHERE key IN (
           SELECT key FROM idempotency_keys WHERE state != 'in_flight'
           ORDER BY state = 'unknown', expires_at LIMIT ?)`,
      ),
      recover: db.prepare("UPDATE idempotency_keys SET state = 'unknown', expires_at = ? WHERE state = 'in_flight'"),
    };
    const recovered = this.sql.recover.run(this.clock.now() + ttlMs).changes;
    if (recovered > 0 && logger) {
      logger.warn({ keys: recovered }, 'keys in flight when the service last stopped now answer OUTCOME_UNKNOWN');
    }
    this.sweep();
    /** Rows held, kept in step with every insert and delete. */
    this.count = /** @type {{n: number}} */ (this.sql.count.get()).n;
    this.beginTx = db.transaction((/** @type {string} */ key, /** @type {string} */ fingerprint) => this.#begin(key, fingerprint));
  }

  /**
   * @param {string} key
   * @param {string} fingerprint
   * @returns {BeginOutcome}
   */
  begin(key, fingerprint) {
    return this.beginTx(key, fingerprint);
  }

  /**
   * @param {string} key
   * @param {string} fingerprint
   * @returns {BeginOutcome}
   */
  #begin(key, fingerprint) {
    this.sweep();
    const row = /** @type {{fingerprint: string, state: string, result: string|null}|undefined} */ (this.sql.get.get(key));
    if (row) {
      if (row.fingerprint !== fingerprint) return { kind: 'mismatch' };
      if (row.state === 'in_flight') return { kind: 'in_flight' };
      if (row.state === 'unknown') return { kind: 'unknown' };
      return { kind: 'replay', result: JSON.parse(/** @type {string} */ (row.result)) };
    }
    if (this.count >= this.maxKeys) {
      this.count -= this.sql.evict.run(this.count - this.maxKeys + 1).changes;
    }
    this.sql.insert.run(key, fingerprint, this.clock.now() + this.ttlMs);
    this.count += 1;
    return { kind: 'new' };
  }

  /**
   * @param {string} key
   * @param {any} result
   */
  complete(key, result) {
    if (!this.db.open) return;
    this.sql.done.run(JSON.stringify(result), this.clock.now() + this.ttlMs, key);
  }

  /** @param {string} key */
  release(key) {
    if (!this.db.open) return;
    this.count -= this.sql.release.run(key).changes;
  }

  /** @param {string} key */
  markUnknown(key) {
    if (!this.db.open) return;
    this.sql.unknown.run(this.clock.now() + this.ttlMs, key);
  }

  /**
   * @param {string} key
   * @param {string} fingerprint
   * @param {any} result
   */
  storeIfAbsent(key, fingerprint, result) {
    if (!this.db.open) return;
    const row = /** @type {{state: string}|undefined} */ (this.sql.get.get(key));
    if (row && row.state !== 'unknown') return;
    this.sql.put.run(key, fingerprint, JSON.stringify(result), this.clock.now() + this.ttlMs);
    if (!row) this.count += 1;
  }

  /** Drop expired results and unknown outcomes. */
  sweep() {
    if (!this.db.open) return;
    const removed = this.sql.sweep.run(this.clock.now()).changes;
    if (this.count !== undefined) this.count -= removed;
  }

  /** Number of keys held. */
  get size() {
    return this.count;
  }

  /** Checkpoint and close the file (also releases the lock). */
  close() {
    if (this.db.open) this.db.close();
  }
}

module.exports = { SqliteIdempotencyStore, SCHEMA_VERSION };
