'use strict';

const { EventEmitter } = require('node:events');

/**
 * The driver interface every driver implements.
 *
 * @typedef {'starting'|'qr'|'authenticated'|'ready'|'disconnected'|'failed'} DriverStateName
 * @typedef {{state: DriverStateName, reason: string|null, since: string}} DriverStatus
 * @typedef {{data: string, filename: string, mimeType: string, caption: string|null, bytes: number}} OutgoingMedia
 * @typedef {{chatId: string, text: string, media: OutgoingMedia|null}} OutgoingMessage
 * @typedef {{id: string, timestamp: number}} SendReceipt timestamp in ms since the epoch
 *
 * @typedef {object} Driver
 * @property {string} kind "wwebjs" or "fake"
 * @property {() => Promise<void>} start begin connecting; resolves without waiting for "ready"
 * @property {() => DriverStatus} status
 * @property {() => string|null} qr the pending QR string, if any
 * @property {(chatId: string) => Promise<string>} resolveChat check a recipient before sending; may throw NOT_ON_WHATSAPP
 * @property {(message: OutgoingMessage) => Promise<SendReceipt>} send
 * @property {() => Promise<void>} stop
 * @property {(event: 'state'|'ack', listener: (event: any) => void) => void} on
 *   "state" with a DriverStatus; "ack" with {id, ack} (a whatsapp-web.js ack number or name) for a sent message
 */

/**
 * Holds a driver's state, reason and the time it was entered, and emits
 * "state" on every change.
 */
class StateHolder extends EventEmitter {
  /**
   * @param {DriverStateName} initial
   * @param {string|null} reason
   * @param {{now: () => number}} clock
   */
  constructor(initial, reason, clock) {
    super();
    this.clock = clock;
    /** @type {DriverStateName} */
    this.state = initial;
    /** @type {string|null} */
    this.reason = reason;
    this.since = clock.now();
  }

  /**
   * @param {DriverStateName} state
   * @param {string|null} [reason]
   */
  set(state, reason = null) {
    if (state === this.state && reason === this.reason) return;
    this.state = state;
    this.reason = reason;
    this.since = this.clock.now();
    this.emit('state', this.snapshot());
  }

  /** @returns {DriverStatus} */
  snapshot() {
    return { state: this.state, reason: this.reason, since: new Date(this.since).toISOString() };
  }
}

module.exports = { StateHolder };
