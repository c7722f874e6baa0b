'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { createFakeDriver, fakeQrString } = require('../src/drivers/fake');
const { FakeClock } = require('./_helpers');

const msg = (text, media = null) => ({ chatId: '15551234567@c.us', text, media });

test('state machine: walks every state, emits changes, tracks since', async () => {
  const clock = new FakeClock();
  const driver = createFakeDriver({ initialState: 'starting', clock });
  const seen = [];
  driver.on('state', (s) => seen.push(s.state));
  await driver.start();
  assert.equal(driver.status().state, 'starting');
  assert.equal(driver.qr(), null);

  clock.t += 1000;
  driver.setState('qr');
  assert.match(driver.qr(), /^2@[^,]+,[^,]+,[^,]+,[^,]+$/);
  assert.equal(driver.status().since, new Date(clock.t).toISOString());
  const firstQr = driver.qr();
  driver.setState('qr');
  assert.notEqual(driver.qr(), firstQr, 'a new QR each time');

  driver.setState('authenticated');
  assert.equal(driver.qr(), null);
  driver.setState('ready');
  driver.setState('ready'); // no change, no event
  driver.setState('disconnected', 'phone offline');
  assert.deepEqual([driver.status().state, driver.status().reason], ['disconnected', 'phone offline']);
  driver.setState('failed', 'banned');
  assert.deepEqual(seen, ['qr', 'authenticated', 'ready', 'disconnected', 'failed']);

  await driver.stop();
  assert.equal(driver.status().state, 'disconnected');
});

test('initial qr state has a QR; reset goes back to the initial state', () => {
  const driver = createFakeDriver({ initialState: 'qr' });
  assert.ok(driver.qr());
  driver.setState('ready');
  driver.reset();
  assert.equal(driver.status().state, 'qr');
  assert.ok(driver.qr());
});

test('sends only when ready', async () => {
  const driver = createFakeDriver({ initialState: 'disconnected' });
  await assert.rejects(driver.send(msg('x')), (err) => err.code === 'NOT_READY' && /disconnected/.test(err.message));
  driver.setState('ready');
  const receipt = await driver.send(msg('x'));
  assert.match(receipt.id, /^true_15551234567@c\.us_FAKE0+1$/);
  assert.equal(await driver.resolveChat('1@c.us'), '1@c.us');
});

test('script outcomes are consumed one per send, then sends are accepted', async () => {
  const clock = new FakeClock();
  const driver = createFakeDriver({ clock });
  driver.setScript([
    { type: 'fail', code: 'NOT_ON_WHATSAPP' },
    { type: 'fail', code: 'RATE_LIMITED', message: 'slow down', retryAfterSec: 9 },
    { type: 'delay', ms: 500 },
    { type: 'accept' },
    { type: 'hang' },
  ]);
  assert.equal(driver.pendingScript(), 5);
  await assert.rejects(driver.send(msg('1')), (err) => err.code === 'NOT_ON_WHATSAPP' && /NOT_ON_WHATSAPP/.test(err.message));
  await assert.rejects(driver.send(msg('2')), (err) => err.code === 'RATE_LIMITED' && err.message === 'slow down' && err.retryAfterSec === 9);
  let delayedDone = false;
  const delayed = driver.send(msg('3')).then((r) => {
    delayedDone = true;
    return r;
  });
  await clock.advance(499);
  assert.equal(delayedDone, false);
  await clock.advance(1);
  await delayed;
  assert.equal(delayedDone, true);
  await driver.send(msg('4'));
  let hung = false;
  driver.send(msg('5')).then(() => {
    hung = true;
  });
  await clock.advance(100000);
  assert.equal(hung, false);
  await driver.send(msg('6'));
  assert.deepEqual(
    driver.sent().map((m) => m.text),
    ['3', '4', '6'],
  );
  driver.setScript([{ type: 'hang' }]);
  driver.setScript([]);
  assert.equal(driver.pendingScript(), 0);
});

test('sent records media metadata, not the data; copies are returned', async () => {
  const driver = createFakeDriver();
  await driver.send(msg('cap', { data: 'YWJj', filename: 'a.txt', mimeType: 'text/plain', caption: 'c', bytes: 3 }));
  const sent = driver.sent();
  assert.deepEqual(sent[0].media, { filename: 'a.txt', mimeType: 'text/plain', caption: 'c', bytes: 3 });
  sent[0].media.bytes = 99;
  assert.equal(driver.sent()[0].media.bytes, 3);
  driver.reset();
  assert.deepEqual(driver.sent(), []);
});

test('fake QR strings look like WhatsApp Web payloads', () => {
  assert.match(fakeQrString(), /^2@/);
});
