'use strict';

const crypto = require('node:crypto');
const { StateHolder } = require('./state');
const { DriverError } = require('../errors');
const { systemClock } = require('../clock');

/**
 * @typedef {import('./state').DriverStateName} DriverStateName
 * @typedef {import('./state').OutgoingMessage} OutgoingMessage
 * @typedef {{type: 'accept'}
 *   | {type: 'fail', code: string, message?: string, retryAfterSec?: number}
 *   | {type: 'hang'}
 *   | {type: 'delay', ms: number}} Outcome
 * @typedef {{id: string, to: string, text: string,
 *   media: {filename: string, mimeType: string, caption: string|null, bytes: number}|null}} SentRecord
 */

/** A QR payload shaped like WhatsApp Web's ("ref,publicKey,identityKey,advSecret"). */
function fakeQrString() {
  const part = (/** @type {number} */ n) => crypto.randomBytes(n).toString('base64');
  return `2@${part(48)},${part(32)},${part(32)},${part(32)}`;
}

/**
 * An in-memory, scriptable driver for tests, CI and the demo.
 *
 * Scripted outcomes are consumed one per send; with none queued, sends are
 * accepted. Accepted (and delayed) sends are recorded in send order.
 *
 * @param {{initialState?: DriverStateName, clock?: import('../clock').Clock}} [options]
 */
function createFakeDriver(options = {}) {
  const initialState = options.initialState ?? 'ready';
  const clock = options.clock ?? systemClock;
  const holder = new StateHolder(initialState, null, clock);
  /** @type {string|null} */
  let qrText = initialState === 'qr' ? fakeQrString() : null;
  /** @type {Outcome[]} */
  let script = [];
  /** @type {SentRecord[]} */
  let sent = [];
  let counter = 0;

  /**
   * @param {OutgoingMessage} message
   * @returns {{id: string, timestamp: number}}
   */
  function record(message) {
    counter += 1;
    const id = `true_${message.chatId}_FAKE${counter.toString(16).toUpperCase().padStart(12, '0')}`;
    sent.push({
      id,
      to: message.chatId,
      text: message.text,
      media: message.media
        ? {
            filename: message.media.filename,
            mimeType: message.media.mimeType,
            caption: message.media.caption,
            bytes: message.media.bytes,
          }
        : null,
    });
    return { id, timestamp: clock.now() };
  }

  const driver = {
    kind: 'fake',
    async start() {},
    status: () => holder.snapshot(),
    qr: () => qrText,
    on: (/** @type {'state'|'ack'} */ event, /** @type {(s: any) => void} */ listener) => {
      holder.on(event, listener);
    },

    /** @param {string} chatId */
    async resolveChat(chatId) {
      return chatId;
    },

    /**
     * @param {OutgoingMessage} message
     * @returns {Promise<{id: string, timestamp: number}>}
     */
    async send(message) {
      if (holder.state !== 'ready') throw new DriverError('NOT_READY', `WhatsApp is not ready (state: ${holder.state})`);
      const outcome = script.shift() ?? { type: 'accept' };
      switch (outcome.type) {
        case 'fail':
          throw new DriverError(outcome.code, outcome.message ?? `fake driver failure: ${outcome.code}`, {
            retryAfterSec: outcome.retryAfterSec,
          });
        case 'hang':
          return new Promise(() => {});
        case 'delay':
          await new Promise((resolve) => clock.setTimeout(() => resolve(undefined), outcome.ms));
          return record(message);
        default:
          return record(message);
      }
    },

    async stop() {
      holder.set('disconnected', 'service stopped');
    },

    // ---- control surface used by /_fake routes and tests ----

    /**
     * @param {DriverStateName} state
     * @param {string|null} [reason]
     */
    setState(state, reason = null) {
      qrText = state === 'qr' ? fakeQrString() : null;
      holder.set(state, reason);
    },

    /** @param {Outcome[]} outcomes replaces any outcomes not yet consumed */
    setScript(outcomes) {
      script = [...outcomes];
    },

    /** @returns {SentRecord[]} */
    sent: () => sent.map((m) => ({ ...m, media: m.media ? { ...m.media } : null })),

    /** @returns {number} outcomes not yet consumed */
    pendingScript: () => script.length,

    /**
     * Report a delivery ack for a message this driver sent, as WhatsApp would.
     * @param {string} id
     * @param {string} ack error, pending, server, device or read
     * @returns {boolean} false when no sent message has this id
     */
    ack(id, ack) {
      if (!sent.some((m) => m.id === id)) return false;
      holder.emit('ack', { id, ack });
      return true;
    },

    reset() {
      sent = [];
      script = [];
      driver.setState(initialState, null);
    },
  };
  return driver;
}

module.exports = { createFakeDriver, fakeQrString };
