'use strict';

const path = require('node:path');
const { IdempotencyStore } = require('./memory');
const { SqliteIdempotencyStore } = require('./sqlite');

/**
 * The Idempotency-Key store the configuration asks for: durable SQLite
 * (the default for the real driver) or in memory.
 *
 * Both implement begin / complete / release / markUnknown / storeIfAbsent /
 * sweep / size / close, with the meaning documented in memory.js.
 *
 * @param {import('../config').Config} config
 * @param {{clock: import('../clock').Clock, logger: import('pino').Logger}} deps
 */
function createIdempotencyStore(config, { clock, logger }) {
  if (config.idempotencyStore === 'memory' || config.stateDir === null) {
    return new IdempotencyStore({ ttlMs: config.idempotencyTtlMs, clock });
  }
  const name = config.clientId ? `idempotency-${config.clientId}.sqlite3` : 'idempotency.sqlite3';
  return new SqliteIdempotencyStore({
    file: path.join(config.stateDir, name),
    ttlMs: config.idempotencyTtlMs,
    maxKeys: config.idempotencyMaxKeys,
    clock,
    logger,
  });
}

module.exports = { createIdempotencyStore, IdempotencyStore, SqliteIdempotencyStore };
