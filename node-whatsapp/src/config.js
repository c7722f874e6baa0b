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
 * @property {string[]} chromiumExtraArgs
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
 * @property {'sqlite'|'memory'} idempotencyStore
 * @property {string|null} stateDir folder of the durable idempotency store
 * @property {number} idempotencyMaxKeys
 * @property {number} requestTimeoutMs
 * @property {number} headersTimeoutMs
 * @property {number} keepAliveTimeoutMs
 * @property {number} maxConnections
 * @property {number} probeIntervalMs 0 turns the periodic page probe off
 * @property {number} probeTimeoutMs
 * @property {number} backoffResetMs
 * @property {number} backoffMaxMs
 * @property {number} qrBackoffMaxMs
 * @property {string|null} ackCallbackUrl
 * @property {string|null} ackCallbackSecret
 * @property {number} ackCallbackRetries
 * @property {number} ackCallbackTimeoutMs
 * @property {number} ackMaxMessages
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

/** Chromium flags that would open the browser to other local processes. */
const REFUSED_CHROMIUM_ARGS = /^--(remote-debugging|remote-allow-origins|user-data-dir)/;

/**
 * Extra Chromium flags (WA_CHROMIUM_EXTRA_ARGS, whitespace separated or a JSON array): for
 * tests and unusual set-ups. Flags that would open a debugging port or move
 * the session folder are refused.
 * @param {Record<string, string|undefined>} env
 * @returns {string[]}
 */
function readChromiumArgs(env) {
  const raw = readString(env, 'WA_CHROMIUM_EXTRA_ARGS');
  if (raw === null) return [];
  let args;
  if (raw.trim().startsWith('[')) {
    // A JSON array, for flags whose value holds spaces (--host-resolver-rules=MAP a b).
    try {
      args = JSON.parse(raw);
    } catch {
      throw new ConfigError('WA_CHROMIUM_EXTRA_ARGS is not a valid JSON array');
    }
    if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) {
      throw new ConfigError('WA_CHROMIUM_EXTRA_ARGS must be a JSON array of strings');
    }
  } else {
    args = raw.split(/\s+/).filter(Boolean);
  }
  for (const arg of args) {
    if (!arg.startsWith('--')) throw new ConfigError(`WA_CHROMIUM_EXTRA_ARGS: "${arg}" is not a --flag`);
    if (REFUSED_CHROMIUM_ARGS.test(arg)) throw new ConfigError(`WA_CHROMIUM_EXTRA_ARGS may not contain ${arg.split('=')[0]}`);
  }
  return args;
}

/**
 * WA_ACK_CALLBACK_URL: an http(s) URL without credentials, set by the operator.
 * @param {Record<string, string|undefined>} env
 * @returns {string|null}
 */
function readCallbackUrl(env) {
  const raw = readString(env, 'WA_ACK_CALLBACK_URL');
  if (raw === null) return null;
  let url;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('WA_ACK_CALLBACK_URL is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError('WA_ACK_CALLBACK_URL must be http or https');
  if (url.username || url.password) throw new ConfigError('WA_ACK_CALLBACK_URL may not hold credentials (the signature authenticates)');
  return url.toString();
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
  const authDir = path.resolve(readString(env, 'WA_AUTH_DIR') ?? './.wwebjs_auth');
  const stateDirRaw = readString(env, 'WA_STATE_DIR');
  // Durable by default. The fake driver keeps nothing on disk unless asked
  // (WA_STATE_DIR), so tests and the demo leave no files behind.
  const stateDir = stateDirRaw !== null ? path.resolve(stateDirRaw) : driver === 'wwebjs' ? authDir : null;
  const storeRaw = readString(env, 'WA_IDEMPOTENCY_STORE') ?? (stateDir === null ? 'memory' : 'sqlite');
  if (storeRaw !== 'sqlite' && storeRaw !== 'memory') {
    throw new ConfigError(`WA_IDEMPOTENCY_STORE must be "sqlite" or "memory", got "${storeRaw}"`);
  }
  const ackCallbackUrl = readCallbackUrl(env);
  const ackCallbackSecret = readString(env, 'WA_ACK_CALLBACK_SECRET');
  if (ackCallbackUrl !== null && (ackCallbackSecret === null || ackCallbackSecret.length < 16)) {
    throw new ConfigError('WA_ACK_CALLBACK_SECRET (at least 16 characters) must be set with WA_ACK_CALLBACK_URL');
  }
  const chromiumExtraArgs = readChromiumArgs(env);

  return {
    host,
    port: readNumber(env, 'WA_PORT', 3000, { min: 0, max: 65535 }),
    token,
    insecureNoAuth: env.WA_INSECURE_NO_AUTH === '1',
    driver,
    authDir,
    clientId,
    chromiumPath: readString(env, 'WA_CHROMIUM_PATH') ?? readString(env, 'PUPPETEER_EXECUTABLE_PATH'),
    chromiumExtraArgs,
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
    idempotencyStore: storeRaw,
    stateDir: storeRaw === 'sqlite' ? (stateDir ?? authDir) : stateDir,
    idempotencyMaxKeys: readNumber(env, 'WA_IDEMPOTENCY_MAX_KEYS', 100000, { min: 1 }),
    requestTimeoutMs: readNumber(env, 'WA_REQUEST_TIMEOUT_MS', 30000, { min: 100 }),
    headersTimeoutMs: readNumber(env, 'WA_HEADERS_TIMEOUT_MS', 10000, { min: 100 }),
    keepAliveTimeoutMs: readNumber(env, 'WA_KEEP_ALIVE_TIMEOUT_MS', 5000, { min: 1 }),
    maxConnections: readNumber(env, 'WA_MAX_CONNECTIONS', 256, { min: 1, max: 100000 }),
    probeIntervalMs: readNumber(env, 'WA_PROBE_INTERVAL_MS', 30000, { min: 0 }),
    probeTimeoutMs: readNumber(env, 'WA_PROBE_TIMEOUT_MS', 5000, { min: 1 }),
    backoffResetMs: readNumber(env, 'WA_BACKOFF_RESET_MS', 60000, { min: 1 }),
    backoffMaxMs: readNumber(env, 'WA_BACKOFF_MAX_MS', 60000, { min: 1 }),
    qrBackoffMaxMs: readNumber(env, 'WA_QR_BACKOFF_MAX_MS', 5000, { min: 1 }),
    ackCallbackUrl,
    ackCallbackSecret: ackCallbackUrl === null ? null : ackCallbackSecret,
    ackCallbackRetries: readNumber(env, 'WA_ACK_CALLBACK_RETRIES', 5, { min: 0, max: 100 }),
    ackCallbackTimeoutMs: readNumber(env, 'WA_ACK_CALLBACK_TIMEOUT_MS', 5000, { min: 1 }),
    ackMaxMessages: readNumber(env, 'WA_ACK_MAX_MESSAGES', 10000, { min: 1 }),
  };
}

module.exports = { loadConfig, isLoopback, ConfigError, STATES };
