'use strict';

/**
 * Stable error codes shared with the Python client.
 *
 * Each code has one HTTP status and one class:
 * - transient: nothing was sent; retrying later may succeed;
 * - permanent: nothing was sent; retrying the same request will fail again;
 * - ambiguous: the message may or may not have been sent.
 *
 * @typedef {'transient'|'permanent'|'ambiguous'} ErrorClass
 * @typedef {{status: number, errorClass: ErrorClass}} CodeInfo
 */

/** @type {Readonly<Record<string, CodeInfo>>} */
const ERROR_CODES = Object.freeze({
  UNAUTHORIZED: { status: 401, errorClass: 'permanent' },
  INVALID_REQUEST: { status: 400, errorClass: 'permanent' },
  NOT_FOUND: { status: 404, errorClass: 'permanent' },
  IN_FLIGHT: { status: 409, errorClass: 'transient' },
  OUTCOME_UNKNOWN: { status: 409, errorClass: 'ambiguous' },
  IDEMPOTENCY_MISMATCH: { status: 422, errorClass: 'permanent' },
  INVALID_RECIPIENT: { status: 422, errorClass: 'permanent' },
  NOT_ON_WHATSAPP: { status: 422, errorClass: 'permanent' },
  RATE_LIMITED: { status: 429, errorClass: 'transient' },
  INTERNAL: { status: 500, errorClass: 'ambiguous' },
  NOT_READY: { status: 503, errorClass: 'transient' },
  SHUTTING_DOWN: { status: 503, errorClass: 'transient' },
  TIMEOUT_AFTER_SEND: { status: 504, errorClass: 'ambiguous' },
});

/** Codes a driver may report for a failed send (also accepted by the fake script). */
const DRIVER_FAILURE_CODES = Object.freeze([
  'NOT_READY',
  'RATE_LIMITED',
  'INVALID_RECIPIENT',
  'NOT_ON_WHATSAPP',
  'TIMEOUT_AFTER_SEND',
  'INTERNAL',
]);

/** An error that maps onto one HTTP error response. */
class ApiError extends Error {
  /**
   * @param {keyof typeof ERROR_CODES} code
   * @param {string} message human readable, safe to show to clients
   * @param {{field?: string, status?: number, retryAfterSec?: number}} [extra]
   */
  constructor(code, message, extra = {}) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    const info = ERROR_CODES[code] || ERROR_CODES.INTERNAL;
    /** @type {number} */
    this.status = extra.status ?? info.status;
    /** @type {string|undefined} */
    this.field = extra.field;
    /** @type {number|undefined} */
    this.retryAfterSec = extra.retryAfterSec;
  }

  /** @returns {{error: {code: string, message: string, field?: string}}} */
  toBody() {
    /** @type {{code: string, message: string, field?: string}} */
    const error = { code: this.code, message: this.message };
    if (this.field !== undefined) error.field = this.field;
    return { error };
  }
}

/**
 * @param {string} field dotted path of the offending field
 * @param {string} message
 */
function invalidRequest(field, message) {
  return new ApiError('INVALID_REQUEST', message, { field });
}

/**
 * Turn anything thrown by a driver into an ApiError, keeping known codes.
 * Unknown failures become INTERNAL with a generic message (the original is
 * only logged, never sent to the client).
 * @param {unknown} err
 * @returns {ApiError}
 */
function toApiError(err) {
  if (err instanceof ApiError) return err;
  const code = /** @type {any} */ (err)?.code;
  if (typeof code === 'string' && DRIVER_FAILURE_CODES.includes(code)) {
    const message = typeof (/** @type {any} */ (err).message) === 'string' && /** @type {any} */ (err).message
      ? /** @type {any} */ (err).message
      : code;
    const retryAfterSec = /** @type {any} */ (err).retryAfterSec;
    return new ApiError(/** @type {any} */ (code), message, {
      retryAfterSec: typeof retryAfterSec === 'number' ? retryAfterSec : undefined,
    });
  }
  return new ApiError('INTERNAL', 'internal error');
}

/**
 * Error thrown by drivers for a classified failure.
 */
class DriverError extends Error {
  /**
   * @param {string} code one of DRIVER_FAILURE_CODES
   * @param {string} message
   * @param {{retryAfterSec?: number}} [extra]
   */
  constructor(code, message, extra = {}) {
    super(message);
    this.name = 'DriverError';
    this.code = code;
    this.retryAfterSec = extra.retryAfterSec;
  }
}

module.exports = { ERROR_CODES, DRIVER_FAILURE_CODES, ApiError, DriverError, invalidRequest, toApiError };
