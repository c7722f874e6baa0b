'use strict';

const { ApiError } = require('./errors');

/**
 * @typedef {object} TimerClock
 * @property {() => number} now milliseconds
 * @property {(fn: () => void, ms: number) => any} setTimeout
 * @property {(handle: any) => void} clearTimeout
 *
 * @typedef {{chatId: string, resolve: (release: () => void) => void, reject: (err: Error) => void}} Waiter
 * @typedef {{busy: boolean, lastStart: number}} ChatSlot
 */

/**
 * Send pacing: a FIFO queue that hands out "send slots".
 *
 * - per chat: at most one send at a time, and consecutive sends to the same
 *   chat start at least minChatGapMs apart;
 * - globally: sends start at least 1000 / globalRatePerSec ms apart;
 * - a request waits in the queue instead of failing; when queueLimit requests
 *   already wait, acquire() fails with RATE_LIMITED (429 with Retry-After).
 *
 * A waiter for a chat that is not yet eligible does not hold up waiters for
 * other chats.
 */
class Pacer {
  /**
   * @param {{minChatGapMs: number, globalRatePerSec: number, queueLimit: number, clock: TimerClock}} options
   */
  constructor({ minChatGapMs, globalRatePerSec, queueLimit, clock }) {
    this.minChatGapMs = minChatGapMs;
    this.intervalMs = 1000 / globalRatePerSec;
    this.queueLimit = queueLimit;
    this.clock = clock;
    /** @type {Waiter[]} */
    this.waiting = [];
    /** @type {Map<string, ChatSlot>} */
    this.chats = new Map();
    this.lastGrant = -Infinity;
    this.timer = null;
    this.closed = false;
  }

  /** Number of requests waiting for a slot. */
  get queued() {
    return this.waiting.length;
  }

  /**
   * Wait for a send slot for chatId. Resolves with a release function that
   * must be called once the send has finished (successfully or not).
   * @param {string} chatId
   * @returns {Promise<() => void>}
   */
  acquire(chatId) {
    if (this.closed) {
      return Promise.reject(new ApiError('SHUTTING_DOWN', 'service is shutting down', { retryAfterSec: 5 }));
    }
    return new Promise((resolve, reject) => {
      const waiter = { chatId, resolve, reject };
      this.waiting.push(waiter);
      this.pump();
      // Granted at once, or allowed to wait: done. Otherwise the queue is full.
      const index = this.waiting.indexOf(waiter);
      if (index !== -1 && this.waiting.length > this.queueLimit) {
        this.waiting.splice(index, 1);
        const retryAfterSec = Math.max(1, Math.ceil((this.waiting.length * this.intervalMs) / 1000));
        reject(new ApiError('RATE_LIMITED', 'send queue is full', { retryAfterSec }));
      }
    });
  }

  /** Grant every slot that is due now and arm a timer for the next one. */
  pump() {
    if (this.timer !== null) {
      this.clock.clearTimeout(this.timer);
      this.timer = null;
    }
    const now = this.clock.now();
    let earliest = Infinity;
    for (let i = 0; i < this.waiting.length; ) {
      const waiter = this.waiting[i];
      const slot = this.chats.get(waiter.chatId);
      if (slot && slot.busy) {
        i += 1;
        continue; // woken by release()
      }
      const due = Math.max(slot ? slot.lastStart + this.minChatGapMs : -Infinity, this.lastGrant + this.intervalMs);
      if (due > now) {
        earliest = Math.min(earliest, due);
        i += 1;
        continue;
      }
      this.waiting.splice(i, 1);
      this.lastGrant = now;
      this.chats.set(waiter.chatId, { busy: true, lastStart: now });
      waiter.resolve(this.releaser(waiter.chatId));
    }
    if (earliest !== Infinity) {
      this.timer = this.clock.setTimeout(() => {
        this.timer = null;
        this.pump();
      }, Math.max(0, earliest - now));
    }
    this.forgetIdleChats(now);
  }

  /**
   * @param {string} chatId
   * @returns {() => void}
   */
  releaser(chatId) {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const slot = this.chats.get(chatId);
      if (slot) slot.busy = false;
      if (!this.closed) this.pump();
    };
  }

  /**
   * Keep the per-chat map small: forget chats whose gap has passed.
   * @param {number} now
   */
  forgetIdleChats(now) {
    if (this.chats.size < 1024) return;
    for (const [chatId, slot] of this.chats) {
      if (!slot.busy && slot.lastStart + this.minChatGapMs <= now) this.chats.delete(chatId);
    }
  }

  /** Fail every waiting request with SHUTTING_DOWN and refuse new ones. */
  close() {
    this.closed = true;
    if (this.timer !== null) {
      this.clock.clearTimeout(this.timer);
      this.timer = null;
    }
    const waiting = this.waiting.splice(0);
    for (const waiter of waiting) {
      waiter.reject(new ApiError('SHUTTING_DOWN', 'service is shutting down', { retryAfterSec: 5 }));
    }
  }
}

module.exports = { Pacer };
