'use strict';

const crypto = require('node:crypto');
const { ApiError, ERROR_CODES, toApiError } = require('./errors');
const { messageSchema, parseOrThrow } = require('./schemas');
const { normaliseRecipient } = require('./recipient');
const { resolveMedia } = require('./media');
const { withDeadline } = require('./clock');
const { maskRecipient, maskText } = require('./logger');

/**
 * @typedef {{id: string, to: string, timestamp: string, replayed: boolean}} SendResult
 * @typedef {import('./drivers/state').Driver} Driver
 */

/** Retry-After (seconds) for NOT_READY answers. */
const NOT_READY_RETRY_SEC = 2;

/**
 * Hash of everything that makes two requests "the same" for an
 * Idempotency-Key: recipient, text and media (content hashed).
 * @param {string} chatId
 * @param {string} text
 * @param {import('./media').ResolvedMedia|null} media
 */
function fingerprint(chatId, text, media) {
  const mediaPart = media
    ? {
        sha256: crypto.createHash('sha256').update(media.data).digest('hex'),
        filename: media.filename,
        mimeType: media.mimeType,
        caption: media.caption,
      }
    : null;
  return crypto.createHash('sha256').update(JSON.stringify([chatId, text, mediaPart])).digest('hex');
}

/**
 * Validate an Idempotency-Key header value.
 * @param {unknown} key
 * @returns {string|null}
 */
function checkIdempotencyKey(key) {
  if (key === undefined) return null;
  if (typeof key !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw new ApiError('INVALID_REQUEST', 'Idempotency-Key must be 1-255 visible ASCII characters', {
      field: 'headers.idempotency-key',
    });
  }
  return key;
}

/**
 * The send pipeline behind POST /messages:
 * validate -> normalise recipient -> load media -> Idempotency-Key ->
 * readiness -> pacing queue -> recipient check -> send with a deadline.
 *
 * @param {object} deps
 * @param {Driver} deps.driver
 * @param {import('./pacing').Pacer} deps.pacer
 * @param {import('./idempotency').IdempotencyStore} deps.idempotency
 * @param {import('./config').Config} deps.config
 * @param {import('./clock').Clock} deps.clock
 * @param {import('pino').Logger} deps.logger
 */
function createMessageService({ driver, pacer, idempotency, config, clock, logger }) {
  let shuttingDown = false;
  /** @type {Set<{done: Promise<unknown>, abort: (err: ApiError) => void}>} */
  const inFlight = new Set();

  function ensureReady() {
    if (shuttingDown) throw new ApiError('SHUTTING_DOWN', 'service is shutting down', { retryAfterSec: 5 });
    const { state } = driver.status();
    if (state !== 'ready') {
      throw new ApiError('NOT_READY', `WhatsApp is not ready (state: ${state})`, { retryAfterSec: NOT_READY_RETRY_SEC });
    }
  }

  /**
   * Ask the driver to send, under the send deadline; while it runs, the send
   * can be aborted by shutdown.
   * @param {import('./drivers/state').OutgoingMessage} message
   * @param {(receipt: {id: string, timestamp: number}) => void} onLateSuccess
   */
  function sendWithDeadline(message, onLateSuccess) {
    const attempt = Promise.resolve().then(() => driver.send(message));
    let abort = /** @type {(err: ApiError) => void} */ (() => {});
    const aborted = new Promise((_, reject) => {
      abort = reject;
    });
    const guarded = withDeadline(
      Promise.race([attempt, aborted]),
      config.sendTimeoutMs,
      () =>
        new ApiError('TIMEOUT_AFTER_SEND', `WhatsApp did not confirm the send within ${config.sendTimeoutMs} ms; it may have been sent`),
      clock,
    );
    const entry = { done: guarded.catch(() => {}), abort };
    inFlight.add(entry);
    entry.done.then(() => inFlight.delete(entry));
    // After TIMEOUT_AFTER_SEND the send may still complete. Follow it: the
    // driver may hand over its own late receipt (err.late), or, when our
    // deadline fired first, the attempt itself may still resolve.
    /** @param {any} err */
    const followDriverLate = (err) => {
      if (err?.code === 'TIMEOUT_AFTER_SEND' && typeof err.late?.then === 'function') {
        err.late.then(onLateSuccess, () => {});
      }
    };
    guarded.catch((err) => {
      if (err?.code !== 'TIMEOUT_AFTER_SEND') return;
      if (typeof err.late?.then === 'function') followDriverLate(err);
      else if (err instanceof ApiError) attempt.then(onLateSuccess, followDriverLate);
    });
    return guarded;
  }

  /**
   * @param {unknown} body parsed JSON body
   * @param {unknown} idempotencyKeyHeader
   * @returns {Promise<SendResult>}
   */
  async function send(body, idempotencyKeyHeader) {
    if (shuttingDown) throw new ApiError('SHUTTING_DOWN', 'service is shutting down', { retryAfterSec: 5 });
    const key = checkIdempotencyKey(idempotencyKeyHeader);
    const request = parseOrThrow(messageSchema, body);
    const { chatId } = normaliseRecipient(request.to);
    const text = request.text ?? '';
    const media = request.media
      ? await resolveMedia(request.media, { mediaDir: config.mediaDir, maxBytes: config.bodyLimitBytes })
      : null;
    const print = fingerprint(chatId, text, media);

    if (key !== null) {
      const claim = idempotency.begin(key, print);
      if (claim.kind === 'replay') return { ...claim.result, replayed: true };
      if (claim.kind === 'in_flight') {
        throw new ApiError('IN_FLIGHT', 'a request with this Idempotency-Key is still in flight', { retryAfterSec: 1 });
      }
      if (claim.kind === 'unknown') {
        throw new ApiError(
          'OUTCOME_UNKNOWN',
          'an earlier request with this Idempotency-Key may have been sent; it is not sent again',
        );
      }
      if (claim.kind === 'mismatch') {
        throw new ApiError('IDEMPOTENCY_MISMATCH', 'this Idempotency-Key was used with a different request');
      }
    }

    /** @param {{id: string, timestamp: number}} receipt @param {string} to */
    const toResult = (receipt, to) => ({
      id: receipt.id,
      to,
      timestamp: new Date(receipt.timestamp).toISOString(),
      replayed: false,
    });

    let driverAsked = false;
    try {
      ensureReady();
      const release = await pacer.acquire(chatId);
      let target = chatId;
      try {
        ensureReady();
        target = await withDeadline(
          Promise.resolve().then(() => driver.resolveChat(chatId)),
          config.sendTimeoutMs,
          () => new ApiError('NOT_READY', 'WhatsApp did not answer the recipient lookup in time', { retryAfterSec: NOT_READY_RETRY_SEC }),
          clock,
        );
        ensureReady();
        driverAsked = true;
        const receipt = await sendWithDeadline({ chatId: target, text, media }, (late) => {
          // The send finished after we answered TIMEOUT_AFTER_SEND: keep the
          // result so a retry with the same key is replayed, not re-sent.
          if (key !== null) idempotency.storeIfAbsent(key, print, toResult(late, target));
          logger.info({ to: maskRecipient(target), id: maskText(late.id) }, 'send confirmed after its deadline');
        });
        const result = toResult(receipt, target);
        if (key !== null) idempotency.complete(key, result);
        logger.info({ to: maskRecipient(target), id: maskText(result.id), media: media !== null }, 'message sent');
        return result;
      } finally {
        release();
      }
    } catch (err) {
      const apiError = toApiError(err);
      if (key !== null) {
        // Once the driver was asked to send, an ambiguous failure keeps the
        // key: a retry must not send the message a second time.
        if (driverAsked && ERROR_CODES[apiError.code]?.errorClass === 'ambiguous') idempotency.markUnknown(key);
        else idempotency.release(key);
      }
      if (apiError.code === 'INTERNAL' && !(err instanceof ApiError)) {
        logger.error({ err: maskText(/** @type {any} */ (err)?.message ?? err), to: maskRecipient(chatId) }, 'send failed');
      } else {
        logger.warn({ code: apiError.code, to: maskRecipient(chatId) }, 'send not done');
      }
      throw apiError;
    }
  }

  /**
   * Stop taking sends: queued requests fail with SHUTTING_DOWN; sends the
   * driver is working on get graceMs to finish, then fail with
   * TIMEOUT_AFTER_SEND (they may have been sent).
   * @param {number} graceMs
   */
  async function shutdown(graceMs) {
    shuttingDown = true;
    pacer.close();
    if (inFlight.size === 0) return;
    const all = Promise.all([...inFlight].map((entry) => entry.done));
    let timer;
    const graceOver = new Promise((resolve) => {
      timer = clock.setTimeout(() => resolve(undefined), graceMs);
    });
    await Promise.race([all, graceOver]);
    clock.clearTimeout(timer);
    for (const entry of inFlight) {
      entry.abort(
        new ApiError('TIMEOUT_AFTER_SEND', 'service stopped before WhatsApp confirmed the send; it may have been sent'),
      );
    }
    await all;
  }

  return { send, shutdown, inFlightCount: () => inFlight.size, isShuttingDown: () => shuttingDown };
}

module.exports = { createMessageService, fingerprint, checkIdempotencyKey };
