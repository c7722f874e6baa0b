'use strict';

const crypto = require('node:crypto');
const { ApiError } = require('./errors');

/** @param {string} value */
function sha256(value) {
  return crypto.createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Build the bearer-token check used by every route but /health.
 *
 * - token set: the Authorization header must be "Bearer <token>"; tokens are
 *   compared as SHA-256 digests with crypto.timingSafeEqual, so neither the
 *   length nor the content leaks through timing.
 * - no token and insecureNoAuth: every request passes (explicit opt-out).
 * - no token otherwise: every request fails with "WA_TOKEN is not set".
 *
 * @param {{token: string|null, insecureNoAuth: boolean}} options
 * @returns {(authorization: string|undefined) => ApiError|null}
 */
function createAuthCheck({ token, insecureNoAuth }) {
  if (token === null) {
    if (insecureNoAuth) return () => null;
    return () => new ApiError('UNAUTHORIZED', 'WA_TOKEN is not set');
  }
  const expected = sha256(token);
  return (authorization) => {
    if (typeof authorization !== 'string' || authorization === '') {
      return new ApiError('UNAUTHORIZED', 'missing bearer token');
    }
    const match = /^Bearer[ ]+(.+)$/i.exec(authorization);
    const presented = match ? match[1].trim() : '';
    const ok = crypto.timingSafeEqual(sha256(presented), expected);
    return ok && match ? null : new ApiError('UNAUTHORIZED', 'invalid bearer token');
  };
}

module.exports = { createAuthCheck };
