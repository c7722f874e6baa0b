'use strict';

// Shared test helpers (not a test file: the name matches none of node --test's patterns).

const { Writable } = require('node:stream');
const { spawn } = require('node:child_process');
const path = require('node:path');

const SERVER = path.join(__dirname, '..', 'src', 'server.js');
const { loadConfig } = require('../src/config');
const { createApp } = require('../src/app');
const { createFakeDriver } = require('../src/drivers/fake');
const { createLogger } = require('../src/logger');

const TOKEN = 'test-token-0123456789';
const AUTH = Object.freeze({ authorization: `Bearer ${TOKEN}` });

/**
 * Config for tests: fake driver, a token, no pacing delays.
 * @param {Record<string, string>} [env]
 */
function testConfig(env = {}) {
  return loadConfig({
    WA_DRIVER: 'fake',
    WA_TOKEN: TOKEN,
    WA_MIN_CHAT_GAP_MS: '0',
    WA_GLOBAL_RATE_PER_SEC: '100000',
    WA_SEND_TIMEOUT_MS: '2000',
    ...env,
  });
}

/** A pino destination that keeps every line, parsed. */
function logSink() {
  /** @type {any[]} */
  const lines = [];
  let raw = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      raw += chunk.toString();
      let nl;
      while ((nl = raw.indexOf('\n')) !== -1) {
        const line = raw.slice(0, nl);
        raw = raw.slice(nl + 1);
        if (line) lines.push(JSON.parse(line));
      }
      cb();
    },
  });
  return { stream, lines, text: () => lines.map((l) => JSON.stringify(l)).join('\n') };
}

/**
 * Build an app around a fake driver.
 * @param {{env?: Record<string, string>, driver?: any, clock?: any, logLevel?: string}} [options]
 */
function buildApp(options = {}) {
  const config = testConfig(options.env);
  const driver = options.driver ?? createFakeDriver({ initialState: /** @type {any} */ (config.fakeState) });
  const sink = logSink();
  const logger = createLogger({ level: options.logLevel ?? 'info', destination: sink.stream });
  const app = createApp({ driver, config, logger, ...(options.clock ? { clock: options.clock } : {}) });
  return { app, driver, config, logs: sink };
}

/**
 * POST /messages through inject.
 * @param {any} app
 * @param {unknown} payload
 * @param {Record<string, string>} [headers]
 */
function postMessage(app, payload, headers = {}) {
  return app.inject({ method: 'POST', url: '/messages', headers: { ...AUTH, ...headers }, payload });
}

/**
 * Manually driven clock: timers run only when advance() passes them.
 */
class FakeClock {
  constructor(start = 1_700_000_000_000) {
    this.t = start;
    this.seq = 0;
    /** @type {Map<number, {at: number, fn: () => void}>} */
    this.timers = new Map();
  }

  now() {
    return this.t;
  }

  /**
   * @param {() => void} fn
   * @param {number} ms
   */
  setTimeout(fn, ms) {
    this.seq += 1;
    this.timers.set(this.seq, { at: this.t + Math.max(0, ms), fn });
    return this.seq;
  }

  /** @param {number} id */
  clearTimeout(id) {
    this.timers.delete(id);
  }

  get pending() {
    return this.timers.size;
  }

  /** Run due timers in time order, letting promises settle between them. */
  async advance(ms) {
    const target = this.t + ms;
    await flush();
    for (;;) {
      let next = null;
      for (const [id, timer] of this.timers) {
        if (timer.at <= target && (next === null || timer.at < next[1].at)) next = [id, timer];
      }
      if (next === null) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
      await flush();
    }
    this.t = target;
    await flush();
  }
}

/** Let pending promise callbacks and immediates run. */
async function flush() {
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Wait until a condition holds (polling, at most 5 s).
 * @param {() => boolean} condition
 */
async function until(condition, label = "") {
  for (let i = 0; i < 500 && !condition(); i += 1) await sleep(10);
  if (!condition()) throw new Error(`condition not reached within 5 s ${label}`);
}

/**
 * Run src/server.js as a real process.
 * @param {Record<string, string>} env
 */
function runServer(env, { timeoutMs = 10000, prefix = /** @type {string[]} */ ([]) } = {}) {
  const [command, ...args] = [...prefix, process.execPath, SERVER];
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const line = (/** @type {string} */ msg) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${msg}" line in: ${out}`)), timeoutMs);
      const check = () => {
        const found = out
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
          .find((l) => l.msg === msg);
        if (found) {
          clearTimeout(timer);
          child.stdout.off('data', check);
          resolve(found);
        }
      };
      child.stdout.on('data', check);
      check();
    });
  /** @param {string} msg */
  const lines = (msg) =>
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === msg);
  return { child, exited, line, lines, output: () => out };
}


module.exports = { SERVER, runServer, TOKEN, AUTH, testConfig, logSink, buildApp, postMessage, FakeClock, flush, sleep, until };
