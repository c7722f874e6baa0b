'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { buildApp, AUTH, until } = require('./_helpers');

/**
 * Start an app on an ephemeral loopback port.
 * @param {Record<string, string>} env
 */
async function listen(env) {
  const ctx = buildApp({ env });
  await ctx.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = ctx.app.server.address();
  const base = `http://127.0.0.1:${port}`;
  /** @param {unknown} body */
  const send = (body) =>
    fetch(`${base}/messages`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (res) => ({ status: res.status, body: await res.json(), retryAfter: res.headers.get('retry-after') }));
  return { ...ctx, base, send };
}

test('shutdown lets an in-flight send finish and fails queued ones with SHUTTING_DOWN', async () => {
  const { app, driver, send } = await listen({ WA_MIN_CHAT_GAP_MS: '60000', WA_SHUTDOWN_GRACE_MS: '2000' });
  driver.setScript([{ type: 'delay', ms: 100 }]);
  const inFlight = send({ to: '+15551234567', text: 'first' });
  await until(() => driver.pendingScript() === 0); // the driver is working on it
  const queued = send({ to: '+15551234567', text: 'second' });
  await until(() => app.pacer.queued === 1);
  const stopping = app.shutdown();
  assert.equal(app.shutdown(), stopping, 'shutdown is idempotent');
  const late = await app.inject({ method: 'GET', url: '/status', headers: AUTH });
  assert.equal(late.statusCode, 503);
  assert.equal(late.json().error.code, 'SHUTTING_DOWN');
  const [a, b] = await Promise.all([inFlight, queued]);
  assert.equal(a.status, 200);
  assert.equal(b.status, 503);
  assert.equal(b.body.error.code, 'SHUTTING_DOWN');
  assert.equal(b.retryAfter, '5');
  await stopping;
  assert.equal(driver.sent().length, 1);
  assert.deepEqual([driver.status().state, driver.status().reason], ['disconnected', 'service stopped']);
});

test('a send still running after the grace period fails with TIMEOUT_AFTER_SEND', async () => {
  const { app, driver, send } = await listen({ WA_SHUTDOWN_GRACE_MS: '50', WA_SEND_TIMEOUT_MS: '60000' });
  driver.setScript([{ type: 'hang' }]);
  const hung = send({ to: '+15551234567', text: 'x' });
  await until(() => driver.pendingScript() === 0);
  const started = Date.now();
  await app.shutdown();
  const res = await hung;
  assert.equal(res.status, 504);
  assert.equal(res.body.error.code, 'TIMEOUT_AFTER_SEND');
  assert.match(res.body.error.message, /service stopped/);
  assert.ok(Date.now() - started < 5000);
});

test('shutdown with nothing in flight is quick and the port is closed', async () => {
  const { app, base } = await listen({});
  await app.shutdown();
  await assert.rejects(fetch(`${base}/health`));
});

test('a send arriving during shutdown is refused', async () => {
  const { app, driver } = buildApp({ env: { WA_SHUTDOWN_GRACE_MS: '1000' } });
  driver.setScript([{ type: 'delay', ms: 50 }]);
  const first = app.inject({ method: 'POST', url: '/messages', headers: AUTH, payload: { to: '+15551234567', text: 'a' } });
  await until(() => driver.pendingScript() === 0);
  const stopping = app.shutdown();
  const refused = await app.inject({ method: 'POST', url: '/messages', headers: AUTH, payload: { to: '+15551234567', text: 'b' } });
  assert.equal(refused.statusCode, 503);
  assert.equal(refused.json().error.code, 'SHUTTING_DOWN');
  assert.equal((await first).statusCode, 200);
  await stopping;
});
