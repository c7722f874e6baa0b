'use strict';

const fs = require('node:fs');
const { StateHolder } = require('./state');
const { DriverError } = require('../errors');
const { systemClock, withDeadline } = require('../clock');
const { maskText } = require('../logger');

/** Chromium flags for a headless, quiet browser (see README). */
const CHROMIUM_ARGS = Object.freeze([
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]);

/**
 * Puppeteer launch options. Chromium talks to puppeteer over a pipe
 * (fds 3 and 4), so no DevTools TCP port or DevToolsActivePort file exists
 * that another local process could use to drive the page without the token.
 * Puppeteer's own signal handlers are off: the service's shutdown decides
 * when the browser closes (after in-flight sends settle).
 * @param {import('../config').Config} config
 */
function launchOptions(config) {
  return {
    headless: true,
    pipe: true,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    executablePath: config.chromiumPath ?? undefined,
    args: [...CHROMIUM_ARGS, ...config.chromiumExtraArgs],
  };
}

/** Time allowed for destroying an old client before a new one is built. */
const DESTROY_TIMEOUT_MS = 10000;
/** Back-off between client re-creations: 1 s doubling up to WA_BACKOFF_MAX_MS. */
const BACKOFF_BASE_MS = 1000;

/**
 * @typedef {import('./state').OutgoingMessage} OutgoingMessage
 * @typedef {{Client: any, LocalAuth: any, MessageMedia: any}} WwebjsLib
 * @typedef {object} WwebjsOptions
 * @property {import('../config').Config} config
 * @property {import('pino').Logger} logger
 * @property {import('../clock').Clock} [clock]
 * @property {WwebjsLib} [lib] the whatsapp-web.js exports; tests inject stubs
 */

/** @param {unknown} err */
function errorText(err) {
  return maskText(/** @type {any} */ (err)?.message ?? String(err));
}

/**
 * The production driver: whatsapp-web.js driving WhatsApp Web in Chromium.
 *
 * One Client at a time. When a client fails (initialize error or deadline,
 * auth failure, disconnect, Chromium gone, page stops answering) the driver
 * records the state and reason, destroys that client, waits a back-off and
 * builds a new one. Events from an old client are ignored. Nothing here
 * throws out of an event handler, so a crash degrades the state instead of
 * killing the process.
 *
 * @param {WwebjsOptions} options
 */
function createWwebjsDriver({ config, logger, clock = systemClock, lib }) {
  const wwebjs = lib ?? require('whatsapp-web.js');
  const holder = new StateHolder('starting', 'not started', clock);
  let generation = 0;
  /** @type {any} */
  let client = null;
  /** @type {string|null} */
  let qrText = null;
  let stopped = false;
  let started = false;
  let attempts = 0;
  let probing = false;
  /** @type {string|null} reason of the last failure, shown while retrying */
  let lastFailure = null;
  /** @type {any} */
  let restartTimer = null;
  /** @type {any} */
  let probeTimer = null;
  /** @type {any} */
  let stableTimer = null;
  /** whether the current client showed a QR code (its failures retry sooner) */
  let showedQr = false;

  function buildClient() {
    return new wwebjs.Client({
      authStrategy: new wwebjs.LocalAuth({
        dataPath: config.authDir,
        clientId: config.clientId ?? undefined,
      }),
      // No copy of WhatsApp Web's page is written to the working directory.
      webVersionCache: { type: 'none' },
      puppeteer: launchOptions(config),
    });
  }

  /**
   * @param {any} c
   * @param {number} gen
   */
  function wire(c, gen) {
    const current = () => gen === generation && !stopped;
    // Acks of messages sent by an earlier client are still true: not filtered by generation.
    c.on('message_ack', (/** @type {any} */ msg, /** @type {number} */ ack) => {
      const id = msg?.id?._serialized;
      if (stopped || typeof id !== 'string' || msg?.id?.fromMe !== true) return;
      holder.emit('ack', { id, ack });
    });
    c.on('qr', (/** @type {string} */ qr) => {
      if (!current()) return;
      qrText = qr;
      showedQr = true;
      holder.set('qr', 'scan the QR code with WhatsApp on your phone (GET /qr)');
    });
    c.on('authenticated', () => {
      if (!current()) return;
      qrText = null;
      holder.set('authenticated', 'waiting for WhatsApp Web to load chats');
    });
    c.on('auth_failure', (/** @type {unknown} */ message) => {
      if (!current()) return;
      qrText = null;
      holder.set('failed', `authentication failed: ${maskText(message)}`);
      recycle(gen);
    });
    c.on('ready', () => {
      if (!current()) return;
      qrText = null;
      lastFailure = null;
      holder.set('ready', null);
    });
    c.on('change_state', (/** @type {string} */ waState) => {
      if (!current()) return;
      if (waState === 'CONNECTED') {
        if (holder.state === 'disconnected') holder.set('ready', null);
      } else if (holder.state === 'ready') {
        holder.set('disconnected', `WhatsApp Web state: ${maskText(waState)}`);
      }
    });
    c.on('disconnected', (/** @type {unknown} */ reason) => {
      if (!current()) return;
      qrText = null;
      holder.set('disconnected', `disconnected: ${maskText(reason)}`);
      recycle(gen);
    });
  }

  /**
   * Watch the browser and page of an initialised client for crashes.
   * @param {any} c
   * @param {number} gen
   */
  function watchBrowser(c, gen) {
    const onGone = (/** @type {string} */ why) => () => {
      if (gen !== generation || stopped) return;
      qrText = null;
      holder.set('failed', why);
      recycle(gen);
    };
    if (c.pupBrowser && typeof c.pupBrowser.on === 'function') {
      c.pupBrowser.on('disconnected', onGone('Chromium exited'));
    }
    if (c.pupPage && typeof c.pupPage.on === 'function') {
      c.pupPage.on('error', onGone('WhatsApp Web page crashed'));
    }
  }

  function launch() {
    restartTimer = null;
    if (stopped) return;
    generation += 1;
    const gen = generation;
    qrText = null;
    showedQr = false;
    // A client that stays up (in any state, QR included) for a while resets
    // the back-off: the next failure is retried quickly again.
    stableTimer = clock.setTimeout(() => {
      stableTimer = null;
      if (gen !== generation || stopped) return;
      attempts = 0;
    }, config.backoffResetMs);
    holder.set(
      'starting',
      lastFailure ? `launching WhatsApp Web (attempt ${attempts + 1}; last failure: ${lastFailure})` : 'launching WhatsApp Web',
    );
    let c;
    try {
      c = buildClient();
    } catch (err) {
      holder.set('failed', `could not create the WhatsApp client: ${errorText(err)}`);
      recycle(gen);
      return;
    }
    client = c;
    wire(c, gen);
    let initPromise;
    try {
      initPromise = Promise.resolve(c.initialize());
    } catch (err) {
      initPromise = Promise.reject(err);
    }
    withDeadline(
      initPromise,
      config.initTimeoutMs,
      () => new Error(`WhatsApp Web did not start within ${config.initTimeoutMs} ms`),
      clock,
    ).then(
      () => {
        if (gen !== generation || stopped) return;
        watchBrowser(c, gen);
        scheduleProbe(gen);
      },
      (err) => {
        if (gen !== generation || stopped) return;
        logger.warn({ err: errorText(err) }, 'whatsapp client failed to start');
        holder.set('failed', `could not reach WhatsApp Web: ${errorText(err)}`);
        recycle(gen);
      },
    );
  }

  /**
   * Retire the client of generation gen: destroy it, then build a new one
   * after a back-off. Safe to call more than once for the same generation.
   * @param {number} gen
   */
  function recycle(gen) {
    if (gen !== generation || stopped) return;
    lastFailure = holder.reason;
    generation += 1; // from now on, events from the old client are ignored
    clearTimers();
    const old = client;
    client = null;
    // While a QR code is waiting for a scan, someone may be holding a phone
    // up to the screen: retry sooner.
    const cap = showedQr ? Math.min(config.qrBackoffMaxMs, config.backoffMaxMs) : config.backoffMaxMs;
    const delay = Math.min(BACKOFF_BASE_MS * 2 ** attempts, cap);
    attempts += 1;
    destroyQuietly(old).then(() => {
      if (stopped) return;
      logger.info({ delayMs: delay }, 'recreating whatsapp client');
      restartTimer = clock.setTimeout(launch, delay);
    });
  }

  /** @param {any} c */
  async function destroyQuietly(c) {
    if (!c) return;
    try {
      await withDeadline(
        Promise.resolve().then(() => c.destroy()),
        DESTROY_TIMEOUT_MS,
        () => new Error('destroy timed out'),
        clock,
      );
    } catch (err) {
      logger.warn({ err: errorText(err) }, 'could not destroy the whatsapp client cleanly');
    }
  }

  function clearTimers() {
    for (const timer of [probeTimer, stableTimer]) if (timer !== null) clock.clearTimeout(timer);
    probeTimer = null;
    stableTimer = null;
  }

  /**
   * Probe the page of generation gen every WA_PROBE_INTERVAL_MS, so a page
   * that freezes while idle is found (and the client recycled) without
   * waiting for a send.
   * @param {number} gen
   */
  function scheduleProbe(gen) {
    if (config.probeIntervalMs <= 0) return;
    probeTimer = clock.setTimeout(() => {
      probeTimer = null;
      if (gen !== generation || stopped) return;
      probe().then(() => {
        if (gen === generation && !stopped) scheduleProbe(gen);
      });
    }, config.probeIntervalMs);
  }

  /**
   * Check whether the page still answers (an evaluate in the page, with a
   * deadline); if not, mark the driver failed and build a new client.
   * Run periodically, and after any send or lookup deadline passed.
   * @returns {Promise<void>}
   */
  function probe() {
    if (probing || !client) return Promise.resolve();
    probing = true;
    const gen = generation;
    const c = client;
    return withDeadline(
      Promise.resolve().then(() => c.getState()),
      config.probeTimeoutMs,
      () => new Error('getState timed out'),
      clock,
    )
      .then(
        () => {},
        (err) => {
          if (gen !== generation || stopped) return;
          logger.warn({ err: errorText(err) }, 'whatsapp web stopped answering');
          qrText = null;
          holder.set('failed', 'WhatsApp Web stopped answering');
          recycle(gen);
        },
      )
      .finally(() => {
        probing = false;
      });
  }

  /** @returns {any} the client, when ready to send */
  function readyClient() {
    if (holder.state !== 'ready' || !client) {
      throw new DriverError('NOT_READY', `WhatsApp is not ready (state: ${holder.state})`);
    }
    return client;
  }

  return {
    kind: 'wwebjs',

    async start() {
      if (started) return;
      started = true;
      // The session gives access to the WhatsApp account: owner only.
      fs.mkdirSync(config.authDir, { recursive: true, mode: 0o700 });
      fs.chmodSync(config.authDir, 0o700);
      launch();
    },

    status: () => holder.snapshot(),
    qr: () => qrText,
    on: (/** @type {'state'|'ack'} */ event, /** @type {(s: any) => void} */ listener) => {
      holder.on(event, listener);
    },

    /**
     * Check that a user chat id is on WhatsApp and return WhatsApp's own
     * form of it. Group ids are passed through. Nothing is sent here, so a
     * failure or deadline is NOT_READY (safe to retry).
     * @param {string} chatId
     */
    async resolveChat(chatId) {
      const c = readyClient();
      if (chatId.endsWith('@g.us')) return chatId;
      let wid;
      try {
        wid = await withDeadline(
          Promise.resolve().then(() => c.getNumberId(chatId)),
          config.sendTimeoutMs,
          () => new DriverError('NOT_READY', 'WhatsApp Web did not answer the number lookup in time'),
          clock,
        );
      } catch (err) {
        probe();
        if (err instanceof DriverError) throw err;
        logger.warn({ err: errorText(err) }, 'number lookup failed');
        throw new DriverError('NOT_READY', 'WhatsApp Web could not look up the number');
      }
      if (!wid) throw new DriverError('NOT_ON_WHATSAPP', 'the recipient is not on WhatsApp');
      return typeof wid._serialized === 'string' ? wid._serialized : chatId;
    },

    /**
     * @param {OutgoingMessage} message
     * @returns {Promise<{id: string, timestamp: number}>}
     */
    async send(message) {
      const c = readyClient();
      /** @type {any} */
      let content = message.text;
      /** @type {Record<string, unknown>} */
      const options = { sendSeen: false };
      if (message.media) {
        content = new wwebjs.MessageMedia(message.media.mimeType, message.media.data, message.media.filename);
        const caption = [message.text, message.media.caption].filter((part) => part).join('\n\n');
        if (caption) options.caption = caption;
      }
      /** @param {any} sent */
      const toReceipt = (sent) => {
        const id = sent?.id?._serialized;
        if (typeof id !== 'string') throw new DriverError('INTERNAL', 'WhatsApp Web returned no message id');
        const timestamp = typeof sent.timestamp === 'number' ? sent.timestamp * 1000 : clock.now();
        return { id, timestamp };
      };
      const underlying = Promise.resolve().then(() => c.sendMessage(message.chatId, content, options));
      let sent;
      try {
        sent = await withDeadline(
          underlying,
          config.sendTimeoutMs,
          () => {
            const err = new DriverError(
              'TIMEOUT_AFTER_SEND',
              `WhatsApp Web did not confirm the send within ${config.sendTimeoutMs} ms`,
            );
            // The send may still complete: hand its receipt to whoever wants it.
            const late = underlying.then(toReceipt);
            late.catch(() => {});
            /** @type {any} */ (err).late = late;
            return err;
          },
          clock,
        );
      } catch (err) {
        if (err instanceof DriverError) {
          probe();
          throw err;
        }
        logger.warn({ err: errorText(err) }, 'send failed');
        throw new DriverError('INTERNAL', 'WhatsApp Web failed to send the message');
      }
      return toReceipt(sent);
    },

    async stop() {
      stopped = true;
      if (restartTimer !== null) {
        clock.clearTimeout(restartTimer);
        restartTimer = null;
      }
      clearTimers();
      const old = client;
      client = null;
      qrText = null;
      await destroyQuietly(old);
      holder.set('disconnected', 'service stopped');
    },
  };
}

module.exports = { createWwebjsDriver, launchOptions, CHROMIUM_ARGS };
