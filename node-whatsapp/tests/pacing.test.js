'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { Pacer } = require('../src/pacing');
const { buildApp, postMessage, FakeClock, flush } = require('./_helpers');

/**
 * Acquire a slot and record when it was granted.
 * @param {Pacer} pacer
 * @param {FakeClock} clock
 * @param {string} chat
 * @param {any[]} log
 */
function take(pacer, clock, chat, log, { hold = false } = {}) {
  return pacer.acquire(chat).then((release) => {
    log.push([chat, clock.now() - 1_700_000_000_000]);
    if (!hold) release();
    return release;
  });
}

test('sends to the same chat are spaced by the minimum gap', async () => {
  const clock = new FakeClock();
  const pacer = new Pacer({ minChatGapMs: 1000, globalRatePerSec: 1000, queueLimit: 10, clock });
  const log = [];
  take(pacer, clock, 'a', log);
  take(pacer, clock, 'a', log);
  take(pacer, clock, 'a', log);
  await clock.advance(5000);
  assert.deepEqual(log, [['a', 0], ['a', 1000], ['a', 2000]]);
});

test('a waiting chat does not hold up other chats; global rate spaces all sends', async () => {
  const clock = new FakeClock();
  const pacer = new Pacer({ minChatGapMs: 1000, globalRatePerSec: 10, queueLimit: 10, clock });
  const log = [];
  take(pacer, clock, 'a', log);
  take(pacer, clock, 'a', log);
  take(pacer, clock, 'b', log);
  take(pacer, clock, 'c', log);
  await clock.advance(3000);
  assert.deepEqual(log, [['a', 0], ['b', 100], ['c', 200], ['a', 1000]]);
});

test('one send at a time per chat: the next waits for release', async () => {
  const clock = new FakeClock();
  const pacer = new Pacer({ minChatGapMs: 100, globalRatePerSec: 1000, queueLimit: 10, clock });
  const log = [];
  const first = take(pacer, clock, 'a', log, { hold: true });
  take(pacer, clock, 'a', log);
  await clock.advance(500);
  assert.deepEqual(log, [['a', 0]]);
  const release = await first;
  release();
  release(); // idempotent
  await flush();
  assert.deepEqual(log, [['a', 0], ['a', 500]]);
});

test('queue limit answers RATE_LIMITED with a Retry-After estimate', async () => {
  const clock = new FakeClock();
  const pacer = new Pacer({ minChatGapMs: 0, globalRatePerSec: 1, queueLimit: 2, clock });
  const log = [];
  take(pacer, clock, 'a', log); // granted at once
  take(pacer, clock, 'b', log); // waits
  take(pacer, clock, 'c', log); // waits
  assert.equal(pacer.queued, 2);
  await assert.rejects(pacer.acquire('d'), (err) => err.code === 'RATE_LIMITED' && err.retryAfterSec === 2);
  await clock.advance(2000);
  assert.deepEqual(log, [['a', 0], ['b', 1000], ['c', 2000]]);
});

test('queue limit 0 grants free slots and refuses anything that would wait', async () => {
  const clock = new FakeClock();
  const pacer = new Pacer({ minChatGapMs: 0, globalRatePerSec: 1, queueLimit: 0, clock });
  (await pacer.acquire('a'))();
  await assert.rejects(pacer.acquire('b'), (err) => err.code === 'RATE_LIMITED' && err.retryAfterSec === 1);
  assert.equal(pacer.queued, 0);
  await clock.advance(1000);
  (await pacer.acquire('b'))();
});

test('close fails waiting requests with SHUTTING_DOWN and refuses new ones', async () => {
  const clock = new FakeClock();
  const pacer = new Pacer({ minChatGapMs: 1000, globalRatePerSec: 1000, queueLimit: 10, clock });
  const release = await pacer.acquire('a');
  const waiting = pacer.acquire('a');
  pacer.close();
  await assert.rejects(waiting, (err) => err.code === 'SHUTTING_DOWN');
  await assert.rejects(pacer.acquire('b'), (err) => err.code === 'SHUTTING_DOWN');
  release();
  assert.equal(clock.pending, 0);
});

test('idle chats are forgotten once many are tracked', async () => {
  const clock = new FakeClock();
  const pacer = new Pacer({ minChatGapMs: 10, globalRatePerSec: 1e6, queueLimit: 10, clock });
  for (let i = 0; i < 1100; i += 1) {
    (await pacer.acquire(`c${i}`))();
    clock.t += 1;
  }
  assert.ok(pacer.chats.size < 1100);
});

test('through the API: same-chat sends are spaced, and a full queue answers 429', async (t) => {
  const { app, driver } = buildApp({ env: { WA_MIN_CHAT_GAP_MS: '400', WA_QUEUE_LIMIT: '1' } });
  t.after(() => app.close());
  const started = Date.now();
  const first = postMessage(app, { to: '+15551234567', text: '1' });
  const second = postMessage(app, { to: '+15551234567', text: '2' });
  const third = postMessage(app, { to: '+15551234567', text: '3' });
  const results = await Promise.all([first, second, third]);
  const statuses = results.map((r) => r.statusCode).sort();
  assert.deepEqual(statuses, [200, 200, 429]);
  const limited = results.find((r) => r.statusCode === 429);
  assert.equal(limited.json().error.code, 'RATE_LIMITED');
  assert.ok(Number(limited.headers['retry-after']) >= 1);
  assert.ok(Date.now() - started >= 390, 'second send waited for the chat gap');
  assert.equal(driver.sent().length, 2);
});
