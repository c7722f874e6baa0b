'use strict';

const { STATUS_CODES } = require('node:http');
const { ApiError } = require('./errors');

/** How long a condemned connection may still read the client's rest before it is destroyed. */
const LINGER_MS = 1000;

/**
 * Node http server options that bound how long a client may hold a
 * connection (fastify's `http` option).
 * @param {import('./config').Config} config
 */
function serverTimeouts(config) {
  return {
    requestTimeout: config.requestTimeoutMs,
    // Node refuses a headers timeout longer than the request timeout.
    headersTimeout: Math.min(config.headersTimeoutMs, config.requestTimeoutMs),
    // Timeouts are checked on this interval (Node's default is 30 s).
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(config.headersTimeoutMs / 4))),
  };
}

/**
 * An error answer written straight to a socket, for errors Node's parser
 * raises before any request exists (431, 408, 400): same shape and headers
 * as every other error.
 * @param {number} status
 * @param {string} message
 * @param {string} field
 */
function rawErrorResponse(status, message, field) {
  const body = JSON.stringify(new ApiError('INVALID_REQUEST', message, { field, status }).toBody());
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n' +
    body
  );
}

/**
 * fastify clientErrorHandler: malformed, oversized-header and timed-out
 * requests get the service's error shape, then the connection closes.
 * @param {any} err
 * @param {import('node:net').Socket} socket
 */
function clientErrorHandler(err, socket) {
  if (err?.code === 'ECONNRESET' || err?.code === 'EPIPE' || !socket.writable || /** @type {any} */ (socket)._httpMessage?.headersSent) {
    socket.destroy();
    return;
  }
  let response;
  if (err?.code === 'HPE_HEADER_OVERFLOW') response = rawErrorResponse(431, 'request headers are too large', 'headers');
  else if (err?.code === 'ERR_HTTP_REQUEST_TIMEOUT') response = rawErrorResponse(408, 'the request was not received in time', 'body');
  else response = rawErrorResponse(400, 'malformed HTTP request', 'body');
  socket.end(response);
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/**
 * A connection cap that cannot be filled by clients the service already
 * refused. Connections answered 401 or 413 are "condemned": their write side
 * is closed at once and they are destroyed after LINGER_MS, or sooner when a
 * new connection needs their slot. Only when every slot is held by a live
 * (authenticated or not yet answered) connection is a new one dropped.
 *
 * @param {import('node:http').Server} server
 * @param {{maxConnections: number, logger: import('pino').Logger}} options
 */
function boundConnections(server, { maxConnections, logger }) {
  /** @type {Set<import('node:net').Socket>} */
  const open = new Set();
  /** @type {Set<import('node:net').Socket>} ordered by condemnation time */
  const condemned = new Set();
  let dropped = 0;

  server.on('connection', (socket) => {
    if (open.size >= maxConnections) {
      const victim = condemned.values().next().value;
      if (victim) {
        condemned.delete(victim);
        open.delete(victim);
        victim.destroy();
      } else {
        dropped += 1;
        if (dropped === 1 || dropped % 100 === 0) logger.warn({ maxConnections, dropped }, 'connection cap reached: new connection dropped');
        socket.destroy();
        return;
      }
    }
    open.add(socket);
    socket.once('close', () => {
      open.delete(socket);
      condemned.delete(socket);
    });
  });

  return {
    /**
     * Close a connection after its (already sent) answer.
     * @param {import('node:net').Socket} socket
     */
    condemn(socket) {
      // (light-my-request's injected requests have no real socket.)
      if (typeof socket?.end !== 'function' || socket.destroyed || condemned.has(socket)) return;
      condemned.add(socket);
      socket.end();
      const timer = setTimeout(() => socket.destroy(), LINGER_MS);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
    },
    get size() {
      return open.size;
    },
  };
}

module.exports = { serverTimeouts, clientErrorHandler, boundConnections, rawErrorResponse, LINGER_MS };
