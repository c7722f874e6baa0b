'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { IdempotencyStore } = require('../src/idempotency');
const { buildApp, postMessage, AUTH, FakeClock, until, flush } = require('./_helpers');

test('store: new, in flight, replay, mismatch, release, expiry', () => {
  const clock = new FakeClock();
  const store = new IdempotencyStore({ ttlMs: 1000, clock });
  assert.deepEqual(store.begin('k', 'f1'), { kind: 'new' });
  assert.deepEqual(store.begin('k', 'f1'), { kind: 'in_flight' });
  assert.deepEqual(store.begin('k', 'f2'), { kind: 'mismatch' });
  store.complete('k', { id: 'm1' });
  assert.deepEqual(store.begin('k', 'f1'), { kind: 'replay', result: { id: 'm1' } });
  assert.deepEqual(store.begin('k', 'f2'), { kind: 'mismatch' });

  assert.deepEqual(store.begin('r', 'f1'), { kind: 'new' });
  store.release('r');
  assert.deepEqual(store.begin('r', 'f1'), { kind: 'new' });

  clock.t += 999;
  assert.equal(store.begin('k', 'f1').kind, 'replay');
  clock.t += 1;
  assert.deepEqual(store.begin('k', 'f1'), { kind: 'new' }, 'expired key is free again');
});

test('store: release and complete of unknown keys are no-ops; done keys are not released', () => {
  const clock = new FakeClock();
  const store = new IdempotencyStore({ ttlMs: 1000, clock });
  store.release('nope');
  store.complete('nope', {});
  assert.equal(store.size, 0);
  store.begin('a', 'f');
  store.complete('a', { id: 1 });
  store.release('a');
  assert.equal(store.begin('a', 'f').kind, 'replay');
});

test('store: sweep drops expired results, keeps in-flight and fresh ones', () => {
  const clock = new FakeClock();
  const store = new IdempotencyStore({ ttlMs: 100, clock });
  store.begin('old', 'f');
  store.complete('old', {});
  store.begin('flying', 'f');
  clock.t += 50;
  store.begin('fresh', 'f');
  store.complete('fresh', {});
  clock.t += 60;
  store.sweep();
  assert.deepEqual([...store.entries.keys()], ['flying', 'fresh']);
  clock.t += 100;
  store.sweep();
  assert.deepEqual([...store.entries.keys()], ['flying']);
});

test('store: storeIfAbsent keeps a late result unless the key was claimed again', () => {
  const clock = new FakeClock();
  const store = new IdempotencyStore({ ttlMs: 100, clock });
  store.storeIfAbsent('a', 'f', { id: 'late' });
  assert.deepEqual(store.begin('a', 'f'), { kind: 'replay', result: { id: 'late' } });
  store.begin('b', 'f');
  store.storeIfAbsent('b', 'f', { id: 'late' });
  assert.equal(store.begin('b', 'f').kind, 'in_flight');
});

test('a repeated key returns the first result without sending again', async (t) => {
  const { app, driver } = buildApp();
  t.after(() => app.close());
  const msg = { to: '+15551234567', text: 'pay now' };
  const first = await postMessage(app, msg, { 'idempotency-key': 'order-1' });
  assert.equal(first.statusCode, 200);
  const second = await postMessage(app, { ...msg, to: '15551234567@c.us' }, { 'idempotency-key': 'order-1' });
  assert.equal(second.statusCode, 200);
  assert.deepEqual(second.json(), { ...first.json(), replayed: true });
  assert.equal(driver.sent().length, 1);
  // Without a key, the same body is sent again.
  await postMessage(app, msg);
  assert.equal(driver.sent().length, 2);
});

test('a key still in flight answers 409 IN_FLIGHT with Retry-After', async (t) => {
  const { app, driver } = buildApp();
  t.after(() => app.close());
  driver.setScript([{ type: 'delay', ms: 150 }]);
  const msg = { to: '+15551234567', text: 'slow' };
  const slow = postMessage(app, msg, { 'idempotency-key': 'k-slow' });
  await until(() => driver.pendingScript() === 0);
  const dup = await postMessage(app, msg, { 'idempotency-key': 'k-slow' });
  assert.equal(dup.statusCode, 409);
  assert.equal(dup.json().error.code, 'IN_FLIGHT');
  assert.equal(dup.headers['retry-after'], '1');
  const done = await slow;
  assert.equal(done.statusCode, 200);
  const replay = await postMessage(app, msg, { 'idempotency-key': 'k-slow' });
  assert.deepEqual(replay.json(), { ...done.json(), replayed: true });
  assert.equal(driver.sent().length, 1);
});

test('the same key with a different body answers 422 IDEMPOTENCY_MISMATCH', async (t) => {
  const { app, driver } = buildApp();
  t.after(() => app.close());
  await postMessage(app, { to: '+15551234567', text: 'a' }, { 'idempotency-key': 'k' });
  const res = await postMessage(app, { to: '+15551234567', text: 'b' }, { 'idempotency-key': 'k' });
  assert.equal(res.statusCode, 422);
  assert.equal(res.json().error.code, 'IDEMPOTENCY_MISMATCH');
  const media = { data: 'YWJj', filename: 'a.txt', mimeType: 'text/plain' };
  await postMessage(app, { to: '+15551234567', media }, { 'idempotency-key': 'm' });
  const other = await postMessage(app, { to: '+15551234567', media: { ...media, data: 'YWJk' } }, { 'idempotency-key': 'm' });
  assert.equal(other.json().error.code, 'IDEMPOTENCY_MISMATCH');
  assert.equal(driver.sent().length, 2);
});

test('a failed send releases the key so a retry sends', async (t) => {
  const { app, driver } = buildApp();
  t.after(() => app.close());
  driver.setScript([{ type: 'fail', code: 'RATE_LIMITED' }]);
  const msg = { to: '+15551234567', text: 'x' };
  const failed = await postMessage(app, msg, { 'idempotency-key': 'k' });
  assert.equal(failed.statusCode, 429);
  const retry = await postMessage(app, msg, { 'idempotency-key': 'k' });
  assert.equal(retry.statusCode, 200);
  assert.equal(retry.json().replayed, false);
  assert.equal(driver.sent().length, 1);
});

test('keys expire after WA_IDEMPOTENCY_TTL_MS', async (t) => {
  const clock = new FakeClock(Date.now());
  const { app, driver } = buildApp({ env: { WA_IDEMPOTENCY_TTL_MS: '60000' }, clock });
  t.after(() => app.close());
  const msg = { to: '+15551234567', text: 'x' };
  await postMessage(app, msg, { 'idempotency-key': 'k' });
  clock.t += 59999;
  assert.equal((await postMessage(app, msg, { 'idempotency-key': 'k' })).json().replayed, true);
  clock.t += 1;
  const again = await postMessage(app, msg, { 'idempotency-key': 'k' });
  assert.equal(again.json().replayed, false);
  assert.equal(driver.sent().length, 2);
});

test('a send confirmed after TIMEOUT_AFTER_SEND is replayed for a retry', async (t) => {
  const { app, driver } = buildApp({ env: { WA_SEND_TIMEOUT_MS: '50' } });
  t.after(() => app.close());
  driver.setScript([{ type: 'delay', ms: 120 }]);
  const msg = { to: '+15551234567', text: 'x' };
  const first = await postMessage(app, msg, { 'idempotency-key': 'late' });
  assert.equal(first.statusCode, 504);
  assert.equal(first.json().error.code, 'TIMEOUT_AFTER_SEND');
  await until(() => driver.sent().length === 1);
  await flush();
  const retry = await postMessage(app, msg, { 'idempotency-key': 'late' });
  assert.equal(retry.statusCode, 200);
  assert.equal(retry.json().replayed, true);
  assert.equal(driver.sent().length, 1);
  assert.equal(retry.json().id, driver.sent()[0].id);
});

test('status routes work while a key is in flight', async (t) => {
  const { app, driver } = buildApp();
  t.after(() => app.close());
  driver.setScript([{ type: 'delay', ms: 50 }]);
  const p = postMessage(app, { to: '+15551234567', text: 'x' }, { 'idempotency-key': 'z' });
  const status = await app.inject({ method: 'GET', url: '/status', headers: AUTH });
  assert.equal(status.statusCode, 200);
  assert.equal((await p).statusCode, 200);
});

test('a late receipt handed over by the driver is replayed for a retry', async (t) => {
  const { createFakeDriver } = require('../src/drivers/fake');
  const { DriverError } = require('../src/errors');
  const driver = createFakeDriver();
  const { app } = buildApp({ driver });
  t.after(() => app.close());
  let deliver;
  driver.send = async () => {
    const err = new DriverError('TIMEOUT_AFTER_SEND', 'no confirmation');
    err.late = new Promise((resolve) => {
      deliver = resolve;
    });
    throw err;
  };
  const msg = { to: '+15551234567', text: 'x' };
  const first = await postMessage(app, msg, { 'idempotency-key': 'drv-late' });
  assert.equal(first.statusCode, 504);
  deliver({ id: 'late-1', timestamp: Date.now() });
  await flush();
  const retry = await postMessage(app, msg, { 'idempotency-key': 'drv-late' });
  assert.equal(retry.statusCode, 200);
  assert.deepEqual([retry.json().id, retry.json().replayed], ['late-1', true]);
});

test('after TIMEOUT_AFTER_SEND a retry with the key is refused, not sent twice, until the late outcome lands', async (t) => {
  const { createFakeDriver } = require('../src/drivers/fake');
  const driver = createFakeDriver();
  const { app } = buildApp({ driver, env: { WA_SEND_TIMEOUT_MS: '50' } });
  t.after(() => app.close());
  /** @type {Array<(receipt: {id: string, timestamp: number}) => void>} */
  const confirm = [];
  driver.send = () => new Promise((resolve) => confirm.push(resolve));
  const msg = { to: '+15551234567', text: 'x' };
  assert.equal((await postMessage(app, msg, { 'idempotency-key': 'race' })).statusCode, 504);
  const retry = await postMessage(app, msg, { 'idempotency-key': 'race' });
  assert.equal(retry.statusCode, 409);
  assert.equal(retry.json().error.code, 'OUTCOME_UNKNOWN');
  assert.equal(confirm.length, 1, 'the retry did not reach the driver');
  confirm[0]({ id: 'first', timestamp: Date.now() });
  await flush();
  const replay = await postMessage(app, msg, { 'idempotency-key': 'race' });
  assert.deepEqual([replay.statusCode, replay.json().id, replay.json().replayed], [200, 'first', true]);
  assert.equal(confirm.length, 1);
});

test('an INTERNAL failure after the driver was asked keeps the key; one before it releases the key', async (t) => {
  const { app, driver } = buildApp();
  t.after(() => app.close());
  const msg = { to: '+15551234567', text: 'x' };
  driver.setScript([{ type: 'fail', code: 'INTERNAL' }]);
  assert.equal((await postMessage(app, msg, { 'idempotency-key': 'int' })).statusCode, 500);
  const again = await postMessage(app, msg, { 'idempotency-key': 'int' });
  assert.equal(again.json().error.code, 'OUTCOME_UNKNOWN');
  driver.setScript([{ type: 'fail', code: 'NOT_ON_WHATSAPP' }]);
  assert.equal((await postMessage(app, msg, { 'idempotency-key': 'perm' })).statusCode, 422);
  assert.equal((await postMessage(app, msg, { 'idempotency-key': 'perm' })).statusCode, 200, 'a definite failure frees the key');
});

test('store: an unknown outcome refuses the key until it expires or a late result resolves it', () => {
  const clock = new FakeClock();
  const store = new IdempotencyStore({ ttlMs: 100, clock });
  store.begin('u', 'f');
  store.markUnknown('u');
  assert.deepEqual(store.begin('u', 'f'), { kind: 'unknown' });
  assert.deepEqual(store.begin('u', 'other'), { kind: 'mismatch' });
  store.storeIfAbsent('u', 'f', { id: 'late' });
  assert.deepEqual(store.begin('u', 'f'), { kind: 'replay', result: { id: 'late' } });
  store.begin('v', 'f');
  store.markUnknown('v');
  store.markUnknown('nope');
  clock.t += 100;
  store.sweep();
  assert.deepEqual(store.begin('v', 'f'), { kind: 'new' }, 'an expired unknown outcome frees the key');
});
