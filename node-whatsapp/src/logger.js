'use strict';

const pino = require('pino');

/**
 * Mask a phone number or chat id for logs: keep the first digit (the start of
 * the country code) and the last two digits, e.g. "+4*******67" or
 * "1********67@c.us".
 * @param {unknown} value
 * @returns {string}
 */
function maskRecipient(value) {
  if (typeof value !== 'string') return String(value);
  const at = value.indexOf('@');
  const local = at === -1 ? value : value.slice(0, at);
  const domain = at === -1 ? '' : value.slice(at);
  const plus = local.startsWith('+') ? '+' : '';
  const body = plus ? local.slice(1) : local;
  if (body.length <= 3) return plus + '*'.repeat(body.length) + domain;
  return plus + body[0] + '*'.repeat(body.length - 3) + body.slice(-2) + domain;
}

/**
 * Mask every long digit run (a likely phone number) inside free text, such as
 * an error message that came from WhatsApp Web.
 * @param {unknown} text
 * @returns {string}
 */
function maskText(text) {
  return String(text).replace(/\+?\d{6,}/g, (m) => maskRecipient(m));
}

/** Paths never written to logs. */
const REDACT_PATHS = [
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'config.token',
];

/**
 * Create the service logger: JSON, one object per line, ISO time, level as a
 * label, tokens and Authorization headers redacted.
 * @param {{level?: string, destination?: import('pino').DestinationStream}} [options]
 * @returns {import('pino').Logger}
 */
function createLogger(options = {}) {
  const destination = options.destination ?? pino.destination({ dest: 1, sync: true });
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'node-whatsapp' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destination,
  );
}

module.exports = { createLogger, maskRecipient, maskText };
