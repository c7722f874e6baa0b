'use strict';

const Fastify = require('fastify');
const { ApiError } = require('./errors');
const { createAuthCheck } = require('./auth');
const { createIdempotencyStore } = require('./idempotency');
const { Pacer } = require('./pacing');
const { createMessageService } = require('./messages');
const { systemClock } = require('./clock');
const { createLogger, maskText } = require('./logger');
const { registerCoreRoutes } = require('./routes/core');
const { registerFakeRoutes } = require('./routes/fake');
const { AckStore, createAckNotifier, ackName } = require('./acks');
const { serverTimeouts, clientErrorHandler, boundConnections } = require('./connections');

/** Longest Retry-After the service answers (seconds); longer estimates are capped. */
const MAX_RETRY_AFTER_SEC = 3600;

/** Answers after which the connection is closed rather than kept alive. */
const CLOSE_AFTER = new Set([401, 413]);

/** Default Retry-After (seconds) per error code, when the error has none. */
const DEFAULT_RETRY_AFTER = Object.freeze({ RATE_LIMITED: 1, NOT_READY: 2, IN_FLIGHT: 1, SHUTTING_DOWN: 5 });

/**
 * Map any error reaching fastify's error handler to an ApiError.
 * @param {any} err
 * @param {number} bodyLimit
 */
function classify(err, bodyLimit) {
  if (err instanceof ApiError) return err;
  if (err && err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new ApiError('INVALID_REQUEST', `request body is larger than ${bodyLimit} bytes`, { field: 'body', status: 413 });
  }
  if (err && err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new ApiError('INVALID_REQUEST', 'Content-Type must be application/json', { field: 'body' });
  }
  if (err && err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return new ApiError('INVALID_REQUEST', 'request body is empty but Content-Type is application/json', { field: 'body' });
  }
  if (err && err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new ApiError('INVALID_REQUEST', 'request body is not valid JSON', { field: 'body' });
  }
  if (err && typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new ApiError('INVALID_REQUEST', 'malformed request', { field: 'body' });
  }
  return null;
}

/**
 * Build the HTTP application around a driver.
 *
 * @param {object} deps
 * @param {import('./drivers/state').Driver & Record<string, any>} deps.driver
 * @param {import('./config').Config} deps.config
 * @param {import('./clock').Clock} [deps.clock]
 * @param {import('pino').Logger} [deps.logger]
 */
function createApp({ driver, config, clock = systemClock, logger = createLogger({ level: 'silent' }) }) {
  const app = Fastify({
    logger: false,
    bodyLimit: config.bodyLimitBytes,
    exposeHeadRoutes: false,
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // Bounded connections: a client that sends slowly, or never finishes,
    // loses its connection instead of holding it.
    http: serverTimeouts(config),
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    clientErrorHandler,
    // Errors fastify raises before routing (such as a malformed URL) get the
    // service's error shape too.
    frameworkErrors: (error, request, reply) => {
      reply
        .code(400)
        .type('application/json; charset=utf-8')
        .send(new ApiError('INVALID_REQUEST', 'malformed URL', { field: 'url' }).toBody());
    },
  });

  // JSON only: drop fastify's built-in text/plain parser.
  app.removeContentTypeParser('text/plain');
  const connections = boundConnections(app.server, { maxConnections: config.maxConnections, logger });

  const checkAuth = createAuthCheck(config);
  const idempotency = createIdempotencyStore(config, { clock, logger });
  const pacer = new Pacer({
    minChatGapMs: config.minChatGapMs,
    globalRatePerSec: config.globalRatePerSec,
    queueLimit: config.queueLimit,
    clock,
  });
  const messages = createMessageService({ driver, pacer, idempotency, config, clock, logger });
  let shuttingDown = false;

  driver.on('state', (status) => {
    logger.info({ state: status.state, reason: status.reason }, 'driver state');
  });

  const acks = new AckStore({ maxMessages: config.ackMaxMessages, clock });
  const notifier =
    config.ackCallbackUrl && config.ackCallbackSecret
      ? createAckNotifier({
          url: config.ackCallbackUrl,
          secret: config.ackCallbackSecret,
          retries: config.ackCallbackRetries,
          timeoutMs: config.ackCallbackTimeoutMs,
          clock,
          logger,
        })
      : null;
  driver.on('ack', (/** @type {{id: unknown, ack: unknown}} */ event) => {
    const name = ackName(/** @type {any} */ (event?.ack));
    if (typeof event?.id !== 'string' || name === null) return;
    if (acks.record(event.id, name)) {
      logger.debug({ ack: name }, 'message ack');
      const entry = acks.get(event.id);
      if (notifier && entry) notifier.notify(entry);
    }
  });

  /** @type {{method: string, url: string}[]} */
  const routes = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) routes.push({ method, url: route.url });
  });

  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config?.public) return;
    const failure = checkAuth(request.headers.authorization);
    if (failure) throw failure;
    if (shuttingDown) throw new ApiError('SHUTTING_DOWN', 'service is shutting down', { retryAfterSec: 5 });
  });

  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('Cache-Control', 'no-store');
    reply.header('X-Content-Type-Options', 'nosniff');
    // While stopping, close each connection after its response so that
    // keep-alive clients do not hold the server open.
    if (shuttingDown || CLOSE_AFTER.has(reply.statusCode)) reply.header('Connection', 'close');
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    // A refused client (wrong token, body too large) does not get to keep
    // the connection, nor to trickle the rest of its body into it.
    if (CLOSE_AFTER.has(reply.statusCode) && request.raw.socket) connections.condemn(request.raw.socket);
    logger.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? '(unmatched)',
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
  });

  app.setErrorHandler((err, request, reply) => {
    let apiError = classify(err, config.bodyLimitBytes);
    if (!apiError) {
      logger.error({ err: maskText(/** @type {any} */ (err)?.message ?? err), route: request.routeOptions.url }, 'unhandled error');
      apiError = new ApiError('INTERNAL', 'internal error');
    }
    const retryAfter = apiError.retryAfterSec ?? DEFAULT_RETRY_AFTER[/** @type {keyof typeof DEFAULT_RETRY_AFTER} */ (apiError.code)];
    if (retryAfter !== undefined) {
      reply.header('Retry-After', String(Math.min(MAX_RETRY_AFTER_SEC, Math.max(0, Math.ceil(retryAfter)))));
    }
    reply.code(apiError.status).type('application/json; charset=utf-8').send(apiError.toBody());
  });

  app.setNotFoundHandler(async () => {
    throw new ApiError('NOT_FOUND', 'no such route');
  });

  registerCoreRoutes(app, { driver, messages, acks });
  if (config.driver === 'fake' && driver.kind === 'fake') registerFakeRoutes(app, { driver });

  /**
   * Stop accepting requests, settle queued and in-flight sends, close the
   * HTTP server, then stop the driver. Safe to call twice.
   * @param {number} [graceMs]
   */
  /** @type {Promise<void>|null} */
  let closing = null;
  function shutdown(graceMs = config.shutdownGraceMs) {
    if (closing) return closing;
    shuttingDown = true;
    closing = (async () => {
      const closed = app.close();
      await messages.shutdown(graceMs);
      app.server.closeIdleConnections();
      await closed;
      try {
        await driver.stop();
      } finally {
        notifier?.stop();
        idempotency.close();
      }
    })();
    return closing;
  }

  app.decorate('shutdown', shutdown);
  app.decorate('servedRoutes', () => routes.map((r) => ({ ...r })));
  app.decorate('idempotency', idempotency);
  app.decorate('pacer', pacer);
  app.decorate('connections', connections);
  app.decorate('acks', acks);
  return app;
}

module.exports = { createApp, classify };
