'use strict';

const crypto = require('node:crypto');

/**
 * Delivery acknowledgements: the latest ack WhatsApp reported for each
 * message this service sent, and their optional delivery to the operator's
 * callback URL.
 *
 * whatsapp-web.js numbers acks -1..4; the API names them.
 */
const ACK_NAMES = Object.freeze({ '-1': 'error', 0: 'pending', 1: 'server', 2: 'device', 3: 'read', 4: 'read' });
/** Names in the order a message moves through them (error is terminal). */
const ACK_ORDER = Object.freeze(['pending', 'server', 'device', 'read']);
const ACK_VALUES = Object.freeze(['error', ...ACK_ORDER]);

/** Header carrying the callback signature: `t=<unix seconds>,v1=<hex HMAC-SHA256>`. */
const SIGNATURE_HEADER = 'X-Broadcastio-Signature';
/** Deliveries waiting for the callback; beyond this the oldest is dropped. */
const MAX_PENDING_DELIVERIES = 1000;

/**
 * @param {number|string} ack a whatsapp-web.js ack number, or a name
 * @returns {string|null}
 */
function ackName(ack) {
  if (typeof ack === 'string' && ACK_VALUES.includes(ack)) return ack;
  const name = /** @type {Record<string, string>} */ (ACK_NAMES)[String(ack)];
  return name ?? null;
}

/**
 * The signature of a callback body: HMAC-SHA256 with the shared secret over
 * `<t>.<raw body>`, hex encoded.
 * @param {string} secret
 * @param {number} t unix seconds
 * @param {string} body the exact bytes sent
 */
function signature(secret, t, body) {
  return crypto.createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
}

/**
 * Latest ack per message id, bounded (oldest updated id dropped first).
 */
class AckStore {
  /** @param {{maxMessages: number, clock: {now: () => number}}} options */
  constructor({ maxMessages, clock }) {
    this.maxMessages = maxMessages;
    this.clock = clock;
    /** @type {Map<string, {id: string, ack: string, updatedAt: string}>} */
    this.byId = new Map();
  }

  /**
   * Record an ack. An older ack arriving after a newer one is ignored, so the
   * answer never goes backwards (read stays read); error replaces anything.
   * @param {string} id
   * @param {string} ack name
   * @returns {boolean} true when the stored ack changed
   */
  record(id, ack) {
    const current = this.byId.get(id);
    if (current) {
      if (current.ack === ack) return false;
      if (ack !== 'error' && current.ack !== 'error' && ACK_ORDER.indexOf(ack) < ACK_ORDER.indexOf(current.ack)) return false;
      this.byId.delete(id);
    }
    this.byId.set(id, { id, ack, updatedAt: new Date(this.clock.now()).toISOString() });
    while (this.byId.size > this.maxMessages) {
      const oldest = this.byId.keys().next().value;
      if (oldest === undefined) break;
      this.byId.delete(oldest);
    }
    return true;
  }

  /** @param {string} id */
  get(id) {
    const entry = this.byId.get(id);
    return entry ? { ...entry } : null;
  }
}

/**
 * POSTs each ack change to the operator's callback URL, signed, with
 * bounded retries and exponential back-off. Never follows redirects; the URL
 * comes from the configuration only.
 *
 * @param {{url: string, secret: string, retries: number, timeoutMs: number,
 *   baseDelayMs?: number, clock: import('./clock').Clock, logger: import('pino').Logger,
 *   fetchImpl?: typeof fetch}} options
 */
function createAckNotifier({ url, secret, retries, timeoutMs, baseDelayMs = 1000, clock, logger, fetchImpl = fetch }) {
  let stopped = false;
  /** @type {Set<any>} */
  const timers = new Set();
  let pending = 0;

  /**
   * @param {string} body
   * @param {number} attempt 0-based
   */
  async function attemptDelivery(body, attempt) {
    const t = Math.floor(clock.now() / 1000);
    let status = 0;
    try {
      const res = await fetchImpl(url, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: `t=${t},v1=${signature(secret, t, body)}` },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => {});
    } catch {
      status = 0;
    }
    if (status >= 200 && status < 300) {
      pending -= 1;
      return;
    }
    if (stopped || attempt >= retries) {
      pending -= 1;
      logger.warn({ status, attempts: attempt + 1 }, 'ack callback failed: giving up on this ack');
      return;
    }
    const delay = Math.min(baseDelayMs * 2 ** attempt, 30000);
    const timer = clock.setTimeout(() => {
      timers.delete(timer);
      attemptDelivery(body, attempt + 1);
    }, delay);
    timers.add(timer);
  }

  return {
    /** @param {{id: string, ack: string, updatedAt: string}} entry */
    notify(entry) {
      if (stopped) return;
      if (pending >= MAX_PENDING_DELIVERIES) {
        logger.warn({ pending }, 'ack callback backlog full: ack not delivered');
        return;
      }
      pending += 1;
      const body = JSON.stringify({ event: 'message_ack', id: entry.id, ack: entry.ack, at: entry.updatedAt });
      attemptDelivery(body, 0);
    },
    stop() {
      stopped = true;
      for (const timer of timers) clock.clearTimeout(timer);
      if (timers.size > 0) logger.warn({ dropped: timers.size }, 'ack callbacks still waiting to be retried were dropped at shutdown');
      timers.clear();
    },
    pending: () => pending,
  };
}

module.exports = { AckStore, createAckNotifier, ackName, signature, SIGNATURE_HEADER, ACK_VALUES };
