'use strict';

const net = require('node:net');
const path = require('node:path');

/** Driver states, in the order a healthy start walks through them. */
const STATES = Object.freeze(['starting', 'qr', 'authenticated', 'ready', 'disconnected', 'failed']);

/** Raised for a configuration that must stop the service (exit code 2). */
class ConfigError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * @typedef {object} Config
 * @property {string} host
 * @property {number} port
 * @property {string|null} token
 * @property {boolean} insecureNoAuth
 * @property {'wwebjs'|'fake'} driver
 * @property {string} authDir
 * @property {string|null} clientId
 * @property {string|null} chromiumPath
 * @property {number} initTimeoutMs
 * @property {number} sendTimeoutMs
 * @property {number} idempotencyTtlMs
 * @property {number} bodyLimitBytes
 * @property {number} minChatGapMs
 * @property {number} globalRatePerSec
 * @property {number} queueLimit
 * @property {string|null} mediaDir
 * @property {string} logLevel
 * @property {string} fakeState
 * @property {number} shutdownGraceMs
 */

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * @param {Record<string, string|undefined>} env
 * @param {string} name
 * @param {number} fallback
 * @param {{min?: number, max?: number, integer?: boolean}} [limits]
 */
function readNumber(env, name, fallback, limits = {}) {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  const { min = 0, max = Number.MAX_SAFE_INTEGER, integer = true } = limits;
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    throw new ConfigError(`${name} must be ${integer ? 'an integer' : 'a number'} between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

/**
 * @param {Record<string, string|undefined>} env
 * @param {string} name
 */
function readString(env, name) {
  const raw = env[name];
  if (raw === undefined || raw === '') return null;
  return raw;
}

/**
 * True when the host only accepts connections from this machine.
 * @param {string} host
 */
function isLoopback(host) {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) return h === '::1' || /^::ffff:127\./.test(h);
  return false;
}

/**
 * Read the service configuration from environment variables.
 * @param {Record<string, string|undefined>} env
 * @returns {Config}
 */
function loadConfig(env) {
  const host = readString(env, 'WA_HOST') ?? '127.0.0.1';
  const token = readString(env, 'WA_TOKEN');
  if (!isLoopback(host) && token === null) {
    throw new ConfigError(`WA_TOKEN must be set when WA_HOST (${host}) is not a loopback address`);
  }

  const driver = readString(env, 'WA_DRIVER') ?? 'wwebjs';
  if (driver !== 'wwebjs' && driver !== 'fake') {
    throw new ConfigError(`WA_DRIVER must be "wwebjs" or "fake", got "${driver}"`);
  }

  const fakeState = readString(env, 'WA_FAKE_STATE') ?? 'ready';
  if (!STATES.includes(fakeState)) {
    throw new ConfigError(`WA_FAKE_STATE must be one of ${STATES.join(', ')}, got "${fakeState}"`);
  }

  const clientId = readString(env, 'WA_CLIENT_ID');
  if (clientId !== null && !/^[-_A-Za-z0-9]+$/.test(clientId)) {
    throw new ConfigError('WA_CLIENT_ID may only hold letters, digits, "_" and "-"');
  }

  const logLevel = (readString(env, 'WA_LOG_LEVEL') ?? 'info').toLowerCase();
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`WA_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }

  const mediaDirRaw = readString(env, 'WA_MEDIA_DIR');

  return {
    host,
    port: readNumber(env, 'WA_PORT', 3000, { min: 0, max: 65535 }),
    token,
    insecureNoAuth: env.WA_INSECURE_NO_AUTH === '1',
    driver,
    authDir: path.resolve(readString(env, 'WA_AUTH_DIR') ?? './.wwebjs_auth'),
    clientId,
    chromiumPath: readString(env, 'WA_CHROMIUM_PATH') ?? readString(env, 'PUPPETEER_EXECUTABLE_PATH'),
    initTimeoutMs: readNumber(env, 'WA_INIT_TIMEOUT_MS', 60000, { min: 1 }),
    sendTimeoutMs: readNumber(env, 'WA_SEND_TIMEOUT_MS', 20000, { min: 1 }),
    idempotencyTtlMs: readNumber(env, 'WA_IDEMPOTENCY_TTL_MS', 24 * 60 * 60 * 1000, { min: 1 }),
    bodyLimitBytes: readNumber(env, 'WA_BODY_LIMIT_BYTES', 16 * 1024 * 1024, { min: 1024 }),
    minChatGapMs: readNumber(env, 'WA_MIN_CHAT_GAP_MS', 1000, { min: 0 }),
    globalRatePerSec: readNumber(env, 'WA_GLOBAL_RATE_PER_SEC', 20, { min: 0.001, max: 100000, integer: false }),
    queueLimit: readNumber(env, 'WA_QUEUE_LIMIT', 1000, { min: 0 }),
    mediaDir: mediaDirRaw === null ? null : path.resolve(mediaDirRaw),
    logLevel,
    fakeState,
    shutdownGraceMs: readNumber(env, 'WA_SHUTDOWN_GRACE_MS', 10000, { min: 0 }),
  };
}

module.exports = { loadConfig, isLoopback, ConfigError, STATES };
