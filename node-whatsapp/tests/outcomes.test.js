'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { buildApp, postMessage } = require('./_helpers');

const MSG = { to: '+15551234567', text: 'x' };

test('driver failures map to stable codes and statuses', async (t) => {
  const { app, driver } = buildApp();
  t.after(() => app.close());
  const cases = [
    [{ type: 'fail', code: 'NOT_ON_WHATSAPP' }, 422, 'NOT_ON_WHATSAPP', undefined],
    [{ type: 'fail', code: 'INVALID_RECIPIENT' }, 422, 'INVALID_RECIPIENT', undefined],
    [{ type: 'fail', code: 'RATE_LIMITED' }, 429, 'RATE_LIMITED', '1'],
    [{ type: 'fail', code: 'RATE_LIMITED', retryAfterSec: 30 }, 429, 'RATE_LIMITED', '30'],
    [{ type: 'fail', code: 'INTERNAL', message: 'page crashed' }, 500, 'INTERNAL', undefined],
    [{ type: 'fail', code: 'NOT_READY' }, 503, 'NOT_READY', '2'],
    [{ type: 'fail', code: 'TIMEOUT_AFTER_SEND' }, 504, 'TIMEOUT_AFTER_SEND', undefined],
  ];
  for (const [outcome, status, code, retryAfter] of cases) {
    driver.setScript([outcome]);
    const res = await postMessage(app, MSG);
    assert.equal(res.statusCode, status, code);
    assert.equal(res.json().error.code, code);
    assert.equal(res.headers['retry-after'], retryAfter, code);
    assert.equal(res.json().error.field, undefined);
  }
  assert.equal(driver.sent().length, 0);
});

test('a hanging send becomes TIMEOUT_AFTER_SEND (504) at the send deadline', async (t) => {
  const { app, driver } = buildApp({ env: { WA_SEND_TIMEOUT_MS: '60' } });
  t.after(() => app.close());
  driver.setScript([{ type: 'hang' }]);
  const started = Date.now();
  const res = await postMessage(app, MSG);
  assert.equal(res.statusCode, 504);
  assert.equal(res.json().error.code, 'TIMEOUT_AFTER_SEND');
  assert.ok(Date.now() - started >= 55);
  // The next send is accepted.
  assert.equal((await postMessage(app, MSG)).statusCode, 200);
});

test('a delayed send succeeds', async (t) => {
  const { app, driver } = buildApp();
  t.after(() => app.close());
  driver.setScript([{ type: 'delay', ms: 30 }]);
  const res = await postMessage(app, MSG);
  assert.equal(res.statusCode, 200);
  assert.equal(driver.sent().length, 1);
});

test('every state but ready answers NOT_READY 503 with Retry-After', async (t) => {
  const { app, driver } = buildApp();
  t.after(() => app.close());
  for (const state of ['starting', 'qr', 'authenticated', 'disconnected', 'failed']) {
    driver.setState(state);
    const res = await postMessage(app, MSG);
    assert.equal(res.statusCode, 503, state);
    assert.equal(res.json().error.code, 'NOT_READY');
    assert.match(res.json().error.message, new RegExp(state));
    assert.equal(res.headers['retry-after'], '2');
  }
  driver.setState('ready');
  assert.equal((await postMessage(app, MSG)).statusCode, 200);
});

test('a state change while queued is noticed before sending', async (t) => {
  const { app, driver } = buildApp({ env: { WA_MIN_CHAT_GAP_MS: '500' } });
  t.after(() => app.close());
  const first = postMessage(app, MSG);
  const second = postMessage(app, MSG);
  await first;
  driver.setState('disconnected');
  const res = await second;
  assert.equal(res.statusCode, 503);
  assert.equal(driver.sent().length, 1);
});

test('a slow recipient lookup becomes NOT_READY, an unexpected driver error INTERNAL', async (t) => {
  const { createFakeDriver } = require('../src/drivers/fake');
  const driver = createFakeDriver();
  const { app, logs } = buildApp({ driver, env: { WA_SEND_TIMEOUT_MS: '40' } });
  t.after(() => app.close());
  driver.resolveChat = () => new Promise(() => {});
  let res = await postMessage(app, MSG);
  assert.equal(res.statusCode, 503);
  assert.equal(res.json().error.code, 'NOT_READY');
  assert.match(res.json().error.message, /lookup/);

  driver.resolveChat = async (id) => id;
  driver.send = async () => {
    throw new Error('secret internals at /home/x.js for 15551234567');
  };
  res = await postMessage(app, MSG);
  assert.equal(res.statusCode, 500);
  assert.deepEqual(res.json(), { error: { code: 'INTERNAL', message: 'internal error' } });
  assert.doesNotMatch(logs.text(), /15551234567/);
});

test('an unexpected error in a route answers INTERNAL without details', async (t) => {
  const { createFakeDriver } = require('../src/drivers/fake');
  const driver = createFakeDriver();
  const { app, logs } = buildApp({ driver });
  t.after(() => app.close());
  driver.status = () => {
    throw new Error('kaboom');
  };
  const res = await app.inject({ method: 'GET', url: '/status', headers: require('./_helpers').AUTH });
  assert.equal(res.statusCode, 500);
  assert.deepEqual(res.json(), { error: { code: 'INTERNAL', message: 'internal error' } });
  assert.match(logs.text(), /kaboom/);
});
