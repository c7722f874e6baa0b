'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { EventEmitter } = require('node:events');
const { createWwebjsDriver, CHROMIUM_ARGS } = require('../src/drivers/wwebjs');
const { createLogger } = require('../src/logger');
const { FakeClock, flush, logSink, testConfig } = require('./_helpers');

/**
 * A stand-in for the whatsapp-web.js module: Client records its options and
 * lets each test decide what its methods do. No Chromium anywhere.
 */
function makeLib() {
  const lib = {
    /** @type {any[]} */
    clients: [],
    /** per-client behaviour, replaced by tests */
    initialize: async (/** @type {any} */ _c) => {},
    getNumberId: async (/** @type {string} */ id) => ({ _serialized: id, user: id.split('@')[0], server: 'c.us' }),
    sendMessage: async () => ({ id: { _serialized: 'true_15551234567@c.us_3EB0ABC' }, timestamp: 1700000000 }),
    getState: async () => 'CONNECTED',
    destroy: async () => {},
    /** @type {any[]} */
    sendCalls: [],
  };
  class Client extends EventEmitter {
    /** @param {any} options */
    constructor(options) {
      super();
      this.options = options;
      this.destroyCalls = 0;
      this.pupBrowser = new EventEmitter();
      this.pupPage = new EventEmitter();
      lib.clients.push(this);
    }
    initialize() {
      return lib.initialize(this);
    }
    /** @param {string} id */
    getNumberId(id) {
      return lib.getNumberId(id);
    }
    /** @param {string} chatId @param {any} content @param {any} options */
    sendMessage(chatId, content, options) {
      lib.sendCalls.push({ chatId, content, options });
      return lib.sendMessage();
    }
    getState() {
      return lib.getState();
    }
    destroy() {
      this.destroyCalls += 1;
      return lib.destroy();
    }
  }
  class LocalAuth {
    /** @param {any} options */
    constructor(options) {
      this.options = options;
    }
  }
  class MessageMedia {
    /** @param {string} mimetype @param {string} data @param {string} filename */
    constructor(mimetype, data, filename) {
      Object.assign(this, { mimetype, data, filename });
    }
  }
  return Object.assign(lib, { Client, LocalAuth, MessageMedia });
}

/** @param {Record<string, string>} [env] */
function setup(env = {}) {
  const lib = makeLib();
  const clock = new FakeClock();
  const sink = logSink();
  const config = testConfig({
    WA_DRIVER: 'wwebjs',
    WA_INIT_TIMEOUT_MS: '1000',
    WA_SEND_TIMEOUT_MS: '500',
    WA_AUTH_DIR: '/tmp/wa-auth-test',
    WA_CLIENT_ID: 'shop',
    WA_CHROMIUM_PATH: '/usr/bin/chromium',
    WA_PROBE_INTERVAL_MS: '0',
    WA_PROBE_TIMEOUT_MS: '500',
    ...env,
  });
  const driver = createWwebjsDriver({ config, logger: createLogger({ destination: sink.stream }), clock, lib });
  const states = [];
  driver.on('state', (s) => states.push([s.state, s.reason]));
  return { lib, clock, driver, states, logs: sink };
}

/** Drive a client to ready. */
async function toReady(ctx) {
  await ctx.driver.start();
  await flush();
  ctx.lib.clients.at(-1).emit('ready');
}

const MSG = { chatId: '15551234567@c.us', text: 'hi', media: null };

test('builds the Client with LocalAuth, the Chromium path and safe args', async () => {
  const { lib, driver } = setup();
  assert.equal(driver.kind, 'wwebjs');
  assert.equal(driver.status().state, 'starting');
  await driver.start();
  await driver.start(); // only once
  assert.equal(lib.clients.length, 1);
  const { options } = lib.clients[0];
  assert.ok(options.authStrategy instanceof lib.LocalAuth);
  assert.deepEqual(options.authStrategy.options, { dataPath: '/tmp/wa-auth-test', clientId: 'shop' });
  assert.equal(options.puppeteer.headless, true);
  assert.equal(options.puppeteer.executablePath, '/usr/bin/chromium');
  assert.deepEqual(options.puppeteer.args, [...CHROMIUM_ARGS]);
  // A pipe, not a DevTools TCP port; the service's signal handling, not puppeteer's.
  assert.equal(options.puppeteer.pipe, true);
  assert.deepEqual(
    [options.puppeteer.handleSIGINT, options.puppeteer.handleSIGTERM, options.puppeteer.handleSIGHUP],
    [false, false, false],
  );
  assert.deepEqual(options.webVersionCache, { type: 'none' });
  for (const arg of ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']) {
    assert.ok(CHROMIUM_ARGS.includes(arg), arg);
  }
  await driver.stop();
});

test('without a Chromium path or client id, puppeteer picks its default', async () => {
  const { lib, driver } = setup({ WA_CHROMIUM_PATH: '', WA_CLIENT_ID: '' });
  await driver.start();
  assert.equal(lib.clients[0].options.puppeteer.executablePath, undefined);
  assert.equal(lib.clients[0].options.authStrategy.options.clientId, undefined);
  await driver.stop();
});

test('events drive the state: qr, authenticated, ready, change_state', async () => {
  const ctx = setup();
  const { lib, driver, states } = ctx;
  await driver.start();
  await flush();
  const c = lib.clients[0];
  c.emit('qr', '2@abc,def');
  assert.equal(driver.status().state, 'qr');
  assert.equal(driver.qr(), '2@abc,def');
  c.emit('qr', '2@next');
  assert.equal(driver.qr(), '2@next');
  c.emit('authenticated');
  assert.equal(driver.qr(), null);
  assert.equal(driver.status().state, 'authenticated');
  c.emit('ready');
  assert.equal(driver.status().state, 'ready');
  c.emit('change_state', 'OPENING');
  assert.deepEqual([driver.status().state, driver.status().reason], ['disconnected', 'WhatsApp Web state: OPENING']);
  c.emit('change_state', 'PAIRING');
  c.emit('change_state', 'CONNECTED');
  assert.equal(driver.status().state, 'ready');
  c.emit('change_state', 'CONNECTED');
  assert.deepEqual(
    states.map((s) => s[0]),
    ['starting', 'qr', 'authenticated', 'ready', 'disconnected', 'ready'],
  );
  await driver.stop();
});

test('disconnected: the old client is destroyed, then a new one is built after a back-off', async () => {
  const ctx = setup();
  const { lib, driver, clock } = ctx;
  await toReady(ctx);
  const first = lib.clients[0];
  first.emit('disconnected', 'LOGOUT');
  assert.deepEqual([driver.status().state, driver.status().reason], ['disconnected', 'disconnected: LOGOUT']);
  await flush();
  assert.equal(first.destroyCalls, 1);
  assert.equal(lib.clients.length, 1, 'not rebuilt before the back-off');
  await clock.advance(1000);
  assert.equal(lib.clients.length, 2);
  assert.equal(driver.status().state, 'starting');
  assert.match(driver.status().reason, /attempt 2; last failure: disconnected: LOGOUT/);
  // Late events from the old client are ignored.
  first.emit('ready');
  first.emit('qr', 'stale');
  first.emit('disconnected', 'again');
  assert.equal(driver.status().state, 'starting');
  assert.equal(driver.qr(), null);
  assert.equal(first.destroyCalls, 1);
  // The new client works.
  lib.clients[1].emit('ready');
  assert.equal(driver.status().state, 'ready');
  assert.equal((await driver.send(MSG)).id, 'true_15551234567@c.us_3EB0ABC');
  await driver.stop();
  assert.equal(lib.clients[1].destroyCalls, 1);
});

test('back-off doubles and is capped, and resets after a stable period', async () => {
  const ctx = setup({ WA_BACKOFF_RESET_MS: '90000' });
  const { lib, clock, driver } = ctx;
  lib.initialize = async () => {
    throw new Error('Failed to launch the browser process! spawn /usr/bin/chromium ENOENT');
  };
  await driver.start();
  await flush();
  assert.equal(driver.status().state, 'failed');
  assert.match(driver.status().reason, /could not reach WhatsApp Web: Failed to launch/);
  const delays = [];
  let last = lib.clients.length;
  let t0 = clock.now();
  for (let i = 0; i < 8; i += 1) {
    while (lib.clients.length === last) await clock.advance(500);
    delays.push(clock.now() - t0);
    last = lib.clients.length;
    t0 = clock.now();
    await flush();
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
  lib.initialize = async () => {};
  while (lib.clients.length === last) await clock.advance(1000);
  await flush();
  lib.clients.at(-1).emit('ready');
  lib.clients.at(-1).emit('disconnected', 'NAVIGATION');
  await flush();
  let before = lib.clients.length;
  await clock.advance(59999);
  assert.equal(lib.clients.length, before, 'a client that failed at once does not reset the back-off, ready or not');
  await clock.advance(1);
  assert.equal(lib.clients.length, before + 1);
  await clock.advance(90000); // stable for WA_BACKOFF_RESET_MS (in state "starting": any state counts)
  lib.clients.at(-1).emit('disconnected', 'NAVIGATION');
  await flush();
  before = lib.clients.length;
  await clock.advance(1000);
  assert.equal(lib.clients.length, before + 1, 'back to 1 s after a stable period');
  await driver.stop();
});

test('while a QR code is shown, the back-off is capped at WA_QR_BACKOFF_MAX_MS', async () => {
  const { lib, clock, driver } = setup({ WA_QR_BACKOFF_MAX_MS: '3000', WA_BACKOFF_RESET_MS: '1000000' });
  await driver.start();
  await flush();
  const delays = [];
  for (let i = 0; i < 4; i += 1) {
    const before = lib.clients.length;
    lib.clients.at(-1).emit('qr', 'ref,key,id,adv');
    lib.clients.at(-1).emit('disconnected', 'Max qrcode retries reached');
    await flush();
    const t0 = clock.now();
    while (lib.clients.length === before) await clock.advance(250);
    delays.push(clock.now() - t0);
    await flush();
  }
  assert.deepEqual(delays, [1000, 2000, 3000, 3000]);
  await driver.stop();
});

test('the periodic probe finds a page that froze while idle and rebuilds the client', async () => {
  const { lib, clock, driver, logs } = setup({ WA_PROBE_INTERVAL_MS: '2000', WA_PROBE_TIMEOUT_MS: '300' });
  let probes = 0;
  lib.getState = async () => {
    probes += 1;
    return 'CONNECTED';
  };
  await toReady({ lib, clock, driver });
  await flush();
  await clock.advance(4000);
  assert.equal(probes, 2, 'one probe every 2 s');
  assert.equal(driver.status().state, 'ready');
  lib.getState = () => new Promise(() => {}); // the page froze
  await clock.advance(2000);
  assert.equal(driver.status().state, 'ready', 'the probe is still within its deadline');
  await clock.advance(300);
  assert.deepEqual([driver.status().state, driver.status().reason], ['failed', 'WhatsApp Web stopped answering']);
  assert.ok(logs.lines.some((l) => l.msg === 'whatsapp web stopped answering'));
  const before = lib.clients.length;
  await clock.advance(1000);
  assert.equal(lib.clients.length, before + 1, 'a new client, without any send');
  assert.equal(lib.clients.at(-2).destroyCalls, 1);
  await driver.stop();
});

test('message_ack of sent messages is passed on as an "ack" event, also from an older client', async () => {
  const { lib, clock, driver } = setup();
  const acks = [];
  driver.on('ack', (a) => acks.push(a));
  await toReady({ lib, clock, driver });
  const first = lib.clients.at(-1);
  first.emit('message_ack', { id: { _serialized: 'true_1@c.us_A', fromMe: true } }, 1);
  first.emit('message_ack', { id: { _serialized: 'false_1@c.us_B', fromMe: false } }, 3);
  first.emit('message_ack', { id: {} }, 3);
  first.emit('disconnected', 'x');
  await flush();
  first.emit('message_ack', { id: { _serialized: 'true_1@c.us_A', fromMe: true } }, 3);
  assert.deepEqual(acks, [
    { id: 'true_1@c.us_A', ack: 1 },
    { id: 'true_1@c.us_A', ack: 3 },
  ]);
  await driver.stop();
});

test('initialize deadline: a hung start marks failed and rebuilds; the service never hangs', async () => {
  const ctx = setup();
  const { lib, clock, driver } = ctx;
  lib.initialize = () => new Promise(() => {});
  await driver.start();
  await clock.advance(999);
  assert.equal(driver.status().state, 'starting');
  await clock.advance(1);
  assert.deepEqual(driver.status(), {
    state: 'failed',
    reason: 'could not reach WhatsApp Web: WhatsApp Web did not start within 1000 ms',
    since: driver.status().since,
  });
  assert.equal(lib.clients[0].destroyCalls, 1);
  await clock.advance(1000);
  assert.equal(lib.clients.length, 2);
  await driver.stop();
});

test('a client whose destroy hangs is abandoned after a deadline', async () => {
  const ctx = setup();
  const { lib, clock, driver, logs } = ctx;
  await toReady(ctx);
  lib.destroy = () => new Promise(() => {});
  lib.clients[0].emit('disconnected', 'CONFLICT');
  await clock.advance(10000);
  assert.match(logs.text(), /could not destroy the whatsapp client cleanly/);
  await clock.advance(1000);
  assert.equal(lib.clients.length, 2);
  lib.destroy = async () => {};
  await driver.stop();
});

test('a Client constructor or initialize that throws synchronously degrades the state', async () => {
  const ctx = setup();
  const { lib, clock, driver } = ctx;
  const RealClient = lib.Client;
  let throwOnce = true;
  lib.Client = class extends RealClient {
    constructor(options) {
      if (throwOnce) {
        throwOnce = false;
        throw new Error('bad options');
      }
      super(options);
    }
  };
  await driver.start();
  assert.deepEqual([driver.status().state, driver.status().reason], ['failed', 'could not create the WhatsApp client: bad options']);
  lib.initialize = () => {
    throw new Error('sync boom');
  };
  await clock.advance(1000);
  await flush();
  assert.equal(driver.status().state, 'failed');
  assert.match(driver.status().reason, /sync boom/);
  await driver.stop();
});

test('auth_failure marks failed and rebuilds the client', async () => {
  const ctx = setup();
  const { lib, clock, driver } = ctx;
  await driver.start();
  await flush();
  lib.clients[0].emit('qr', 'x');
  lib.clients[0].emit('auth_failure', 'session for 15551234567 invalid');
  assert.equal(driver.status().state, 'failed');
  assert.equal(driver.status().reason, 'authentication failed: session for 1********67 invalid');
  assert.equal(driver.qr(), null);
  await clock.advance(1000);
  assert.equal(lib.clients.length, 2);
  await driver.stop();
});

test('Chromium exiting or the page crashing marks failed and rebuilds', async () => {
  const ctx = setup();
  const { lib, clock, driver } = ctx;
  await toReady(ctx);
  lib.clients[0].pupBrowser.emit('disconnected');
  assert.deepEqual([driver.status().state, driver.status().reason], ['failed', 'Chromium exited']);
  await clock.advance(1000);
  assert.equal(lib.clients.length, 2);
  await flush();
  lib.clients[1].emit('ready');
  lib.clients[1].pupPage.emit('error', new Error('Page crashed!'));
  assert.deepEqual([driver.status().state, driver.status().reason], ['failed', 'WhatsApp Web page crashed']);
  lib.clients[0].pupBrowser.emit('disconnected'); // stale
  await driver.stop();
});

test('an initialize that settles after its client was retired is ignored', async () => {
  const ctx = setup();
  const { lib, clock, driver } = ctx;
  let resolveInit;
  lib.initialize = () => new Promise((resolve) => {
    resolveInit = resolve;
  });
  await driver.start();
  await flush();
  lib.clients[0].emit('disconnected', 'x');
  resolveInit();
  await flush();
  assert.equal(lib.clients[0].pupBrowser.listenerCount('disconnected'), 0);
  let rejectInit;
  lib.initialize = () => new Promise((_, reject) => {
    rejectInit = reject;
  });
  await clock.advance(1000);
  lib.clients[1].emit('disconnected', 'y');
  rejectInit(new Error('late'));
  await flush();
  assert.equal(driver.status().reason, 'disconnected: y');
  await driver.stop();
});

test('resolveChat: registered numbers, numbers not on WhatsApp, groups', async () => {
  const ctx = setup();
  const { lib, driver } = ctx;
  await assert.rejects(driver.resolveChat('15551234567@c.us'), (err) => err.code === 'NOT_READY');
  await toReady(ctx);
  lib.getNumberId = async () => ({ _serialized: '5511987654321@c.us' });
  assert.equal(await driver.resolveChat('551187654321@c.us'), '5511987654321@c.us');
  lib.getNumberId = async () => ({});
  assert.equal(await driver.resolveChat('15551234567@c.us'), '15551234567@c.us');
  lib.getNumberId = async () => null;
  await assert.rejects(driver.resolveChat('15551234567@c.us'), (err) => err.code === 'NOT_ON_WHATSAPP');
  lib.getNumberId = async () => {
    throw new Error('unexpected');
  };
  assert.equal(await driver.resolveChat('120363025246125888@g.us'), '120363025246125888@g.us');
  await assert.rejects(driver.resolveChat('15551234567@c.us'), (err) => err.code === 'NOT_READY' && /look up/.test(err.message));
  await driver.stop();
});

test('resolveChat deadline: a hung lookup is NOT_READY', async () => {
  const ctx = setup();
  const { lib, clock, driver } = ctx;
  await toReady(ctx);
  lib.getNumberId = () => new Promise(() => {});
  const p = driver.resolveChat('15551234567@c.us');
  const check = assert.rejects(p, (err) => err.code === 'NOT_READY' && /in time/.test(err.message));
  await clock.advance(500);
  await check;
  await driver.stop();
});

test('send: text, media with caption, message id and timestamp', async () => {
  const ctx = setup();
  const { lib, driver } = ctx;
  await assert.rejects(driver.send(MSG), (err) => err.code === 'NOT_READY');
  await toReady(ctx);
  const receipt = await driver.send(MSG);
  assert.deepEqual(receipt, { id: 'true_15551234567@c.us_3EB0ABC', timestamp: 1700000000000 });
  assert.deepEqual(lib.sendCalls[0], { chatId: '15551234567@c.us', content: 'hi', options: { sendSeen: false } });

  const media = { data: 'YWJj', filename: 'a.txt', mimeType: 'text/plain', caption: 'cap', bytes: 3 };
  await driver.send({ ...MSG, media });
  const call = lib.sendCalls[1];
  assert.ok(call.content instanceof lib.MessageMedia);
  assert.deepEqual({ ...call.content }, { mimetype: 'text/plain', data: 'YWJj', filename: 'a.txt' });
  assert.deepEqual(call.options, { sendSeen: false, caption: 'hi\n\ncap' });
  await driver.send({ ...MSG, text: '', media: { ...media, caption: null } });
  assert.deepEqual(lib.sendCalls[2].options, { sendSeen: false });

  lib.sendMessage = async () => ({ id: { _serialized: 'id2' } });
  const noTs = await driver.send(MSG);
  assert.equal(noTs.timestamp, ctx.clock.now());
  await driver.stop();
});

test('send failures: thrown errors are INTERNAL, missing ids too', async () => {
  const ctx = setup();
  const { lib, driver, logs } = ctx;
  await toReady(ctx);
  lib.sendMessage = async () => {
    throw new Error('Evaluation failed for 15551234567');
  };
  await assert.rejects(driver.send(MSG), (err) => err.code === 'INTERNAL' && err.message === 'WhatsApp Web failed to send the message');
  assert.doesNotMatch(logs.text(), /15551234567/);
  lib.sendMessage = async () => undefined;
  await assert.rejects(driver.send(MSG), (err) => err.code === 'INTERNAL' && /no message id/.test(err.message));
  await driver.stop();
});

test('send deadline: TIMEOUT_AFTER_SEND, and a page that stopped answering is rebuilt', async () => {
  const ctx = setup();
  const { lib, clock, driver } = ctx;
  await toReady(ctx);
  lib.sendMessage = () => new Promise(() => {});
  // First: the probe answers, so the client is kept.
  let check = assert.rejects(driver.send(MSG), (err) => err.code === 'TIMEOUT_AFTER_SEND');
  await clock.advance(500);
  await check;
  await flush();
  assert.equal(driver.status().state, 'ready');
  assert.equal(lib.clients.length, 1);
  // Then: the probe hangs too, so the driver fails over to a new client.
  lib.getState = () => new Promise(() => {});
  check = assert.rejects(driver.send(MSG), (err) => err.code === 'TIMEOUT_AFTER_SEND');
  await clock.advance(500);
  await check;
  // a second timeout while probing does not start a second probe
  await clock.advance(500);
  assert.deepEqual([driver.status().state, driver.status().reason], ['failed', 'WhatsApp Web stopped answering']);
  await clock.advance(1000);
  assert.equal(lib.clients.length, 2);
  await driver.stop();
});

test('stop destroys the client, cancels a pending rebuild and ignores later events', async () => {
  const ctx = setup();
  const { lib, clock, driver } = ctx;
  await toReady(ctx);
  lib.clients[0].emit('disconnected', 'x');
  await flush();
  await driver.stop();
  assert.deepEqual([driver.status().state, driver.status().reason], ['disconnected', 'service stopped']);
  await clock.advance(120000);
  assert.equal(lib.clients.length, 1);
  assert.equal(clock.pending, 0);
  lib.clients[0].emit('ready');
  assert.equal(driver.status().state, 'disconnected');
});

test('stop while the client is running destroys it', async () => {
  const ctx = setup();
  const { lib, driver } = ctx;
  await toReady(ctx);
  await driver.stop();
  assert.equal(lib.clients[0].destroyCalls, 1);
  await driver.stop(); // twice is fine
});

test('the real whatsapp-web.js module is loaded when no stub is given', () => {
  const config = testConfig({ WA_DRIVER: 'wwebjs' });
  const driver = createWwebjsDriver({ config, logger: createLogger({ level: 'silent' }) });
  assert.equal(driver.status().state, 'starting');
  assert.equal(driver.status().reason, 'not started');
});

test('send deadline: the error carries the late receipt when the send completes after all', async () => {
  const ctx = setup();
  const { lib, clock, driver } = ctx;
  await toReady(ctx);
  let finish;
  lib.sendMessage = () => new Promise((resolve) => {
    finish = resolve;
  });
  const p = driver.send(MSG);
  const caught = p.catch((e) => e);
  await clock.advance(500);
  const err = await caught;
  assert.equal(err.code, 'TIMEOUT_AFTER_SEND');
  finish({ id: { _serialized: 'late-id' }, timestamp: 1700000001 });
  assert.deepEqual(await err.late, { id: 'late-id', timestamp: 1700000001000 });
  await driver.stop();
});
