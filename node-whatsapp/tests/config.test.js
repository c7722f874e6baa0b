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
  assert.deepEqual(c.chromiumExtraArgs, []);
  assert.equal(c.idempotencyStore, 'sqlite', 'the real driver keeps its keys on disk');
  assert.equal(c.stateDir, c.authDir);
  assert.equal(c.ackCallbackUrl, null);
  const fake = loadConfig({ WA_DRIVER: 'fake' });
  assert.deepEqual([fake.idempotencyStore, fake.stateDir], ['memory', null]);
  const fakeDurable = loadConfig({ WA_DRIVER: 'fake', WA_STATE_DIR: '/tmp/s' });
  assert.deepEqual([fakeDurable.idempotencyStore, fakeDurable.stateDir], ['sqlite', '/tmp/s']);
});

test('refuses Chromium flags that open the browser, and unsafe ack callbacks', () => {
  for (const flag of ['--remote-debugging-port=9222', '--remote-debugging-address=0.0.0.0', '--user-data-dir=/tmp/x', 'nodash']) {
    assert.throws(() => loadConfig({ WA_CHROMIUM_EXTRA_ARGS: `--lang=en ${flag}` }), ConfigError, flag);
  }
  assert.throws(() => loadConfig({ WA_ACK_CALLBACK_URL: 'http://127.0.0.1/acks' }), /WA_ACK_CALLBACK_SECRET/);
  const secret = { WA_ACK_CALLBACK_SECRET: 'x'.repeat(16) };
  assert.throws(() => loadConfig({ ...secret, WA_ACK_CALLBACK_URL: 'file:///etc/passwd' }), /http or https/);
  assert.throws(() => loadConfig({ ...secret, WA_ACK_CALLBACK_URL: 'http://u:p@127.0.0.1/' }), /credentials/);
  assert.throws(() => loadConfig({ ...secret, WA_ACK_CALLBACK_URL: 'not a url' }), /not a valid URL/);
  assert.throws(() => loadConfig({ WA_IDEMPOTENCY_STORE: 'redis' }), /WA_IDEMPOTENCY_STORE/);
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
    WA_CHROMIUM_EXTRA_ARGS: ' --ignore-certificate-errors  --lang=en ',
    WA_STATE_DIR: '/tmp/state',
    WA_IDEMPOTENCY_STORE: 'sqlite',
    WA_IDEMPOTENCY_MAX_KEYS: '10',
    WA_REQUEST_TIMEOUT_MS: '1000',
    WA_HEADERS_TIMEOUT_MS: '900',
    WA_KEEP_ALIVE_TIMEOUT_MS: '800',
    WA_MAX_CONNECTIONS: '7',
    WA_PROBE_INTERVAL_MS: '0',
    WA_PROBE_TIMEOUT_MS: '600',
    WA_BACKOFF_RESET_MS: '500',
    WA_BACKOFF_MAX_MS: '400',
    WA_QR_BACKOFF_MAX_MS: '300',
    WA_ACK_CALLBACK_URL: 'http://127.0.0.1:9/acks',
    WA_ACK_CALLBACK_SECRET: 'sixteen-chars-or-more',
    WA_ACK_CALLBACK_RETRIES: '2',
    WA_ACK_CALLBACK_TIMEOUT_MS: '200',
    WA_ACK_MAX_MESSAGES: '100',
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
      chromiumExtraArgs: ['--ignore-certificate-errors', '--lang=en'],
      stateDir: '/tmp/state',
      idempotencyStore: 'sqlite',
      idempotencyMaxKeys: 10,
      requestTimeoutMs: 1000,
      headersTimeoutMs: 900,
      keepAliveTimeoutMs: 800,
      maxConnections: 7,
      probeIntervalMs: 0,
      probeTimeoutMs: 600,
      backoffResetMs: 500,
      backoffMaxMs: 400,
      qrBackoffMaxMs: 300,
      ackCallbackUrl: 'http://127.0.0.1:9/acks',
      ackCallbackSecret: 'sixteen-chars-or-more',
      ackCallbackRetries: 2,
      ackCallbackTimeoutMs: 200,
      ackMaxMessages: 100,
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
