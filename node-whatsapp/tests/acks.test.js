'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const crypto = require('node:crypto');
const { buildApp, postMessage, AUTH, FakeClock, until, flush } = require('./_helpers');
const { AckStore, createAckNotifier, signature, SIGNATURE_HEADER } = require('../src/acks');
const { createLogger } = require('../src/logger');

const SECRET = 'callback-secret-0123456789';

/** A callback receiver on 127.0.0.1 that answers with the given statuses in turn. */
async function receiver(statuses = [204]) {
  /** @type {{headers: http.IncomingHttpHeaders, body: string}[]} */
  const calls = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      calls.push({ headers: req.headers, body });
      res.statusCode = statuses[Math.min(calls.length - 1, statuses.length - 1)];
      res.end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {any} */ (server.address());
  test.after(() => server.close());
  return { url: `http://127.0.0.1:${port}/receipts`, calls };
}

/**
 * Verify a callback the way the Python receipts endpoint does.
 * @param {{headers: http.IncomingHttpHeaders, body: string}} call
 */
function verify(call) {
  const header = String(call.headers[SIGNATURE_HEADER.toLowerCase()]);
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  assert.ok(match, header);
  const expected = crypto.createHmac('sha256', SECRET).update(`${match[1]}.${call.body}`).digest('hex');
  assert.ok(crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(match[2])), 'signature over "<t>.<raw body>"');
  assert.ok(Math.abs(Number(match[1]) - Date.now() / 1000) < 60);
  return JSON.parse(call.body);
}

test('store: latest ack per id, never backwards, error replaces, bounded', () => {
  const store = new AckStore({ maxMessages: 2, clock: new FakeClock() });
  assert.equal(store.record('a', 'server'), true);
  assert.equal(store.record('a', 'read'), true);
  assert.equal(store.record('a', 'device'), false, 'a late device ack does not undo read');
  assert.equal(store.get('a').ack, 'read');
  assert.equal(store.record('b', 'pending'), true);
  assert.equal(store.record('b', 'error'), true);
  store.record('c', 'server');
  assert.equal(store.get('a'), null, 'the oldest id went first');
  assert.deepEqual(Object.keys(store.get('b')), ['id', 'ack', 'updatedAt']);
});

test('GET /messages/{id}: pending after the send, then the latest ack reported by the driver', async (t) => {
  const { app } = buildApp();
  t.after(() => app.close());
  const sent = (await postMessage(app, { to: '+15551234567', text: 'hi' })).json();
  const url = `/messages/${encodeURIComponent(sent.id)}`;
  let res = await app.inject({ method: 'GET', url, headers: AUTH });
  assert.deepEqual([res.statusCode, res.json().id, res.json().ack], [200, sent.id, 'pending']);
  for (const ack of ['server', 'device', 'read']) {
    const r = await app.inject({ method: 'POST', url: '/_fake/ack', headers: AUTH, payload: { id: sent.id, ack } });
    assert.deepEqual(r.json(), { id: sent.id, ack });
  }
  res = await app.inject({ method: 'GET', url, headers: AUTH });
  assert.equal(res.json().ack, 'read');
  const unknown = await app.inject({ method: 'GET', url: '/messages/true_1@c.us_NOPE', headers: AUTH });
  assert.deepEqual([unknown.statusCode, unknown.json().error.code], [404, 'NOT_FOUND']);
  const noAuth = await app.inject({ method: 'GET', url });
  assert.equal(noAuth.statusCode, 401);
  const notSent = await app.inject({ method: 'POST', url: '/_fake/ack', headers: AUTH, payload: { id: 'x', ack: 'read' } });
  assert.equal(notSent.statusCode, 404);
});

test('each ack change is POSTed to WA_ACK_CALLBACK_URL, signed with HMAC-SHA256', async (t) => {
  const cb = await receiver();
  const { app } = buildApp({ env: { WA_ACK_CALLBACK_URL: cb.url, WA_ACK_CALLBACK_SECRET: SECRET } });
  t.after(() => app.close());
  const sent = (await postMessage(app, { to: '+15551234567', text: 'hi' })).json();
  for (const ack of ['server', 'server', 'read']) {
    await app.inject({ method: 'POST', url: '/_fake/ack', headers: AUTH, payload: { id: sent.id, ack } });
  }
  await until(() => cb.calls.length === 2);
  const bodies = cb.calls.map(verify);
  assert.deepEqual(
    bodies.map((b) => [b.event, b.id, b.ack]),
    [
      ['message_ack', sent.id, 'server'],
      ['message_ack', sent.id, 'read'],
    ],
    'one callback per change, none for the repeated ack',
  );
  assert.equal(cb.calls[0].headers['content-type'], 'application/json');
  await app.shutdown();
});

test('callbacks are retried with back-off, a bounded number of times', async () => {
  const cb = await receiver([500, 503, 204]);
  const clock = new FakeClock(Date.now());
  const logs = [];
  const logger = createLogger({ level: 'warn', destination: { write: (l) => logs.push(JSON.parse(l)) } });
  const notifier = createAckNotifier({ url: cb.url, secret: SECRET, retries: 5, timeoutMs: 2000, baseDelayMs: 100, clock, logger });
  notifier.notify({ id: 'm1', ack: 'read', updatedAt: new Date().toISOString() });
  await until(() => cb.calls.length === 1 && clock.pending === 1, `a ${cb.calls.length} ${clock.pending}`);
  await clock.advance(99);
  assert.equal(cb.calls.length, 1, 'waits the back-off');
  await clock.advance(1);
  await until(() => cb.calls.length === 2 && clock.pending === 1, 'step 1');
  await clock.advance(200);
  await until(() => cb.calls.length === 3, 'step 2');
  await until(() => notifier.pending() === 0, 'step 3');
  assert.deepEqual(cb.calls.map(verify).map((b) => b.id), ['m1', 'm1', 'm1']);

  const failing = await receiver([500]);
  const giveUp = createAckNotifier({ url: failing.url, secret: SECRET, retries: 2, timeoutMs: 2000, baseDelayMs: 10, clock, logger });
  giveUp.notify({ id: 'm2', ack: 'read', updatedAt: new Date().toISOString() });
  for (let i = 0; i < 200 && giveUp.pending() > 0; i += 1) {
    await clock.advance(50);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.equal(giveUp.pending(), 0);
  assert.equal(failing.calls.length, 3, 'one attempt and two retries');
  assert.ok(logs.some((l) => l.msg === 'ack callback failed: giving up on this ack' && l.attempts === 3));
  assert.equal(signature('s', 1, 'b'), crypto.createHmac('sha256', 's').update('1.b').digest('hex'));
});
