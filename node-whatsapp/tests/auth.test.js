'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { createAuthCheck } = require('../src/auth');
const { buildApp, AUTH, TOKEN } = require('./_helpers');

test('token check: missing, wrong, right', () => {
  const check = createAuthCheck({ token: 'abc', insecureNoAuth: false });
  assert.equal(check(undefined)?.code, 'UNAUTHORIZED');
  assert.equal(check('')?.message, 'missing bearer token');
  assert.equal(check('Bearer abd')?.message, 'invalid bearer token');
  assert.equal(check('Bearer abcd')?.code, 'UNAUTHORIZED');
  assert.equal(check('Basic abc')?.code, 'UNAUTHORIZED');
  assert.equal(check('abc')?.code, 'UNAUTHORIZED');
  assert.equal(check('Bearer abc'), null);
  assert.equal(check('bearer  abc'), null);
});

test('no token: refused unless WA_INSECURE_NO_AUTH=1', () => {
  const closed = createAuthCheck({ token: null, insecureNoAuth: false });
  assert.equal(closed('Bearer anything')?.message, 'WA_TOKEN is not set');
  const open = createAuthCheck({ token: null, insecureNoAuth: true });
  assert.equal(open(undefined), null);
});

test('routes need the token, /health does not', async (t) => {
  const { app } = buildApp();
  t.after(() => app.close());
  for (const [method, url] of [
    ['GET', '/status'],
    ['GET', '/qr'],
    ['POST', '/messages'],
    ['POST', '/_fake/state'],
    ['POST', '/_fake/script'],
    ['GET', '/_fake/sent'],
    ['POST', '/_fake/reset'],
    ['GET', '/no-such-route'],
  ]) {
    const missing = await app.inject({ method, url });
    assert.equal(missing.statusCode, 401, `${method} ${url}`);
    assert.equal(missing.json().error.code, 'UNAUTHORIZED');
    const wrong = await app.inject({ method, url, headers: { authorization: `Bearer ${TOKEN}x` } });
    assert.equal(wrong.statusCode, 401);
    assert.equal(wrong.json().error.message, 'invalid bearer token');
  }
  const health = await app.inject({ method: 'GET', url: '/health' });
  assert.equal(health.statusCode, 200);
  const right = await app.inject({ method: 'GET', url: '/status', headers: AUTH });
  assert.equal(right.statusCode, 200);
});

test('service without WA_TOKEN answers 401 "WA_TOKEN is not set"', async (t) => {
  const { app } = buildApp({ env: { WA_TOKEN: '' } });
  t.after(() => app.close());
  const res = await app.inject({ method: 'GET', url: '/status', headers: AUTH });
  assert.equal(res.statusCode, 401);
  assert.deepEqual(res.json(), { error: { code: 'UNAUTHORIZED', message: 'WA_TOKEN is not set' } });
  assert.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
});

test('WA_INSECURE_NO_AUTH=1 without a token opens the routes', async (t) => {
  const { app } = buildApp({ env: { WA_TOKEN: '', WA_INSECURE_NO_AUTH: '1' } });
  t.after(() => app.close());
  const res = await app.inject({ method: 'GET', url: '/status' });
  assert.equal(res.statusCode, 200);
});
