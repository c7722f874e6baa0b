'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { loadConfig, isLoopback, ConfigError } = require('../src/config');

test('defaults are safe', () => {
  const c = loadConfig({});
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.port, 3000);
  assert.equal(c.token, null);
  assert.equal(c.insecureNoAuth, false);
  assert.equal(c.driver, 'wwebjs');
  assert.equal(c.authDir, path.resolve('.wwebjs_auth'));
  assert.equal(c.clientId, null);
  assert.equal(c.chromiumPath, null);
  assert.equal(c.initTimeoutMs, 60000);
  assert.equal(c.sendTimeoutMs, 20000);
  assert.equal(c.idempotencyTtlMs, 86400000);
  assert.equal(c.bodyLimitBytes, 16 * 1024 * 1024);
  assert.equal(c.minChatGapMs, 1000);
  assert.equal(c.globalRatePerSec, 20);
  assert.equal(c.queueLimit, 1000);
  assert.equal(c.mediaDir, null);
  assert.equal(c.logLevel, 'info');
  assert.equal(c.fakeState, 'ready');
  assert.equal(c.shutdownGraceMs, 10000);
});

test('every variable is read', () => {
  const c = loadConfig({
    WA_HOST: '0.0.0.0',
    WA_PORT: '0',
    WA_TOKEN: 'tok',
    WA_INSECURE_NO_AUTH: '1',
    WA_DRIVER: 'fake',
    WA_AUTH_DIR: '/tmp/auth',
    WA_CLIENT_ID: 'shop-1',
    WA_CHROMIUM_PATH: '/usr/bin/chromium',
    WA_INIT_TIMEOUT_MS: '5000',
    WA_SEND_TIMEOUT_MS: '700',
    WA_IDEMPOTENCY_TTL_MS: '1000',
    WA_BODY_LIMIT_BYTES: '2048',
    WA_MIN_CHAT_GAP_MS: '0',
    WA_GLOBAL_RATE_PER_SEC: '2.5',
    WA_QUEUE_LIMIT: '0',
    WA_MEDIA_DIR: '/tmp/media',
    WA_LOG_LEVEL: 'DEBUG',
    WA_FAKE_STATE: 'qr',
    WA_SHUTDOWN_GRACE_MS: '0',
  });
  assert.deepEqual(
    { ...c },
    {
      host: '0.0.0.0',
      port: 0,
      token: 'tok',
      insecureNoAuth: true,
      driver: 'fake',
      authDir: '/tmp/auth',
      clientId: 'shop-1',
      chromiumPath: '/usr/bin/chromium',
      initTimeoutMs: 5000,
      sendTimeoutMs: 700,
      idempotencyTtlMs: 1000,
      bodyLimitBytes: 2048,
      minChatGapMs: 0,
      globalRatePerSec: 2.5,
      queueLimit: 0,
      mediaDir: '/tmp/media',
      logLevel: 'debug',
      fakeState: 'qr',
      shutdownGraceMs: 0,
    },
  );
});

test('PUPPETEER_EXECUTABLE_PATH is honoured, WA_CHROMIUM_PATH wins', () => {
  assert.equal(loadConfig({ PUPPETEER_EXECUTABLE_PATH: '/a' }).chromiumPath, '/a');
  assert.equal(loadConfig({ PUPPETEER_EXECUTABLE_PATH: '/a', WA_CHROMIUM_PATH: '/b' }).chromiumPath, '/b');
});

test('a non-loopback host without a token is refused', () => {
  assert.throws(() => loadConfig({ WA_HOST: '0.0.0.0' }), (err) => err instanceof ConfigError && /WA_TOKEN/.test(err.message));
  assert.throws(() => loadConfig({ WA_HOST: '192.0.2.10', WA_INSECURE_NO_AUTH: '1' }), ConfigError);
  assert.doesNotThrow(() => loadConfig({ WA_HOST: '0.0.0.0', WA_TOKEN: 't' }));
  assert.doesNotThrow(() => loadConfig({ WA_HOST: 'localhost' }));
});

test('bad values are refused with the variable named', () => {
  const cases = [
    ['WA_PORT', '70000'],
    ['WA_PORT', 'abc'],
    ['WA_PORT', '1.5'],
    ['WA_SEND_TIMEOUT_MS', '0'],
    ['WA_GLOBAL_RATE_PER_SEC', '0'],
    ['WA_BODY_LIMIT_BYTES', '10'],
    ['WA_DRIVER', 'selenium'],
    ['WA_FAKE_STATE', 'sleeping'],
    ['WA_CLIENT_ID', '../x'],
    ['WA_LOG_LEVEL', 'loud'],
  ];
  for (const [name, value] of cases) {
    assert.throws(() => loadConfig({ [name]: value }), (err) => err instanceof ConfigError && err.message.includes(name), `${name}=${value}`);
  }
  // Blank numbers fall back to the default.
  assert.equal(loadConfig({ WA_PORT: ' ' }).port, 3000);
});

test('isLoopback', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1', 'LOCALHOST']) {
    assert.equal(isLoopback(h), true, h);
  }
  for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'example.com', '128.0.0.1']) {
    assert.equal(isLoopback(h), false, h);
  }
});
