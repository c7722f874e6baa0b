'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { buildApp, postMessage, AUTH } = require('./_helpers');

test('GET /health', async (t) => {
  const { app } = buildApp();
  t.after(() => app.close());
  const res = await app.inject({ method: 'GET', url: '/health' });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { status: 'ok' });
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
});

test('GET /status reports state, reason and since', async (t) => {
  const { app, driver } = buildApp();
  t.after(() => app.close());
  let body = (await app.inject({ method: 'GET', url: '/status', headers: AUTH })).json();
  assert.equal(body.state, 'ready');
  assert.equal(body.reason, null);
  assert.ok(!Number.isNaN(Date.parse(body.since)));
  driver.setState('disconnected', 'phone offline');
  body = (await app.inject({ method: 'GET', url: '/status', headers: AUTH })).json();
  assert.deepEqual([body.state, body.reason], ['disconnected', 'phone offline']);
});

test('GET /qr: 404 when none pending, PNG and text when pending', async (t) => {
  const { app, driver } = buildApp();
  t.after(() => app.close());
  let res = await app.inject({ method: 'GET', url: '/qr', headers: AUTH });
  assert.equal(res.statusCode, 404);
  assert.equal(res.json().error.code, 'NOT_FOUND');

  driver.setState('qr');
  res = await app.inject({ method: 'GET', url: '/qr', headers: AUTH });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'image/png');
  assert.deepEqual([...res.rawPayload.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

  res = await app.inject({ method: 'GET', url: '/qr?format=png', headers: AUTH });
  assert.equal(res.headers['content-type'], 'image/png');

  res = await app.inject({ method: 'GET', url: '/qr?format=text', headers: AUTH });
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'], /^text\/plain/);
  assert.equal(res.body, driver.qr());
  assert.match(res.body, /^2@/);

  res = await app.inject({ method: 'GET', url: '/qr?format=svg', headers: AUTH });
  assert.equal(res.statusCode, 400);
  assert.equal(res.json().error.field, 'format');

  driver.setState('ready');
  res = await app.inject({ method: 'GET', url: '/qr?format=text', headers: AUTH });
  assert.equal(res.statusCode, 404);
});

test('POST /messages sends text to a phone number', async (t) => {
  const { app, driver } = buildApp();
  t.after(() => app.close());
  const res = await postMessage(app, { to: '+15551234567', text: 'hello' });
  assert.equal(res.statusCode, 200);
  const body = res.json();
  assert.equal(body.to, '15551234567@c.us');
  assert.equal(body.replayed, false);
  assert.match(body.id, /^true_15551234567@c\.us_/);
  assert.ok(!Number.isNaN(Date.parse(body.timestamp)));
  assert.deepEqual(driver.sent(), [{ id: body.id, to: '15551234567@c.us', text: 'hello', media: null }]);
});

test('POST /messages accepts user and group chat ids', async (t) => {
  const { app, driver } = buildApp();
  t.after(() => app.close());
  for (const to of ['4915112345678@c.us', '120363025246125888@g.us', '15551234567-1600000000@g.us']) {
    const res = await postMessage(app, { to, text: 'x' });
    assert.equal(res.statusCode, 200, to);
    assert.equal(res.json().to, to);
  }
  assert.equal(driver.sent().length, 3);
});

test('POST /messages with media (base64) and caption', async (t) => {
  const { app, driver } = buildApp();
  t.after(() => app.close());
  const data = Buffer.from('%PDF-1.4 fake').toString('base64');
  const res = await postMessage(app, {
    to: '+15551234567',
    text: '',
    media: { data, filename: 'invoice.pdf', mimeType: 'application/pdf', caption: 'Your invoice' },
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(driver.sent()[0].media, {
    filename: 'invoice.pdf',
    mimeType: 'application/pdf',
    caption: 'Your invoice',
    bytes: 13,
  });
  // media without text or caption
  const res2 = await postMessage(app, { to: '+15551234567', media: { data, filename: 'a.pdf', mimeType: 'application/pdf' } });
  assert.equal(res2.statusCode, 200);
  assert.equal(driver.sent()[1].media.caption, null);
  // explicit null media with text
  const res3 = await postMessage(app, { to: '+15551234567', text: 'x', media: null });
  assert.equal(res3.statusCode, 200);
});

test('unknown routes and methods answer NOT_FOUND', async (t) => {
  const { app } = buildApp();
  t.after(() => app.close());
  for (const [method, url] of [['GET', '/nope'], ['GET', '/messages'], ['DELETE', '/status'], ['HEAD', '/status']]) {
    const res = await app.inject({ method, url, headers: AUTH });
    assert.equal(res.statusCode, 404, `${method} ${url}`);
    if (method !== 'HEAD') assert.equal(res.json().error.code, 'NOT_FOUND');
  }
});

test('fake routes: state, script, sent, reset', async (t) => {
  const { app } = buildApp();
  t.after(() => app.close());
  const post = (url, payload) => app.inject({ method: 'POST', url, headers: AUTH, payload });

  let res = await post('/_fake/state', { state: 'qr' });
  assert.deepEqual(res.json(), { state: 'qr' });
  assert.equal((await app.inject({ method: 'GET', url: '/qr?format=text', headers: AUTH })).statusCode, 200);
  res = await post('/_fake/state', { state: 'failed', reason: 'boom' });
  assert.deepEqual((await app.inject({ method: 'GET', url: '/status', headers: AUTH })).json().reason, 'boom');
  res = await post('/_fake/state', { state: 'ready' });

  res = await post('/_fake/script', { outcomes: [{ type: 'fail', code: 'NOT_ON_WHATSAPP' }, { type: 'accept' }] });
  assert.deepEqual(res.json(), { queued: 2 });
  assert.equal((await postMessage(app, { to: '+15551234567', text: 'a' })).json().error.code, 'NOT_ON_WHATSAPP');
  assert.equal((await postMessage(app, { to: '+15551234567', text: 'b' })).statusCode, 200);
  assert.equal((await postMessage(app, { to: '+15551234567', text: 'c' })).statusCode, 200);

  res = await app.inject({ method: 'GET', url: '/_fake/sent', headers: AUTH });
  assert.deepEqual(
    res.json().messages.map((m) => m.text),
    ['b', 'c'],
  );

  await post('/_fake/state', { state: 'disconnected' });
  await post('/_fake/script', { outcomes: [{ type: 'hang' }] });
  res = await app.inject({ method: 'POST', url: '/_fake/reset', headers: AUTH });
  assert.deepEqual(res.json(), { state: 'ready' });
  assert.deepEqual((await app.inject({ method: 'GET', url: '/_fake/sent', headers: AUTH })).json(), { messages: [] });
  assert.equal((await postMessage(app, { to: '+15551234567', text: 'd' })).statusCode, 200);
});

test('fake routes validate their bodies', async (t) => {
  const { app } = buildApp();
  t.after(() => app.close());
  const post = (url, payload) => app.inject({ method: 'POST', url, headers: AUTH, payload });
  let res = await post('/_fake/state', { state: 'sleeping' });
  assert.equal(res.statusCode, 400);
  assert.equal(res.json().error.field, 'state');
  res = await post('/_fake/script', { outcomes: [{ type: 'fail', code: 'NOPE' }] });
  assert.equal(res.json().error.field, 'outcomes.0.code');
  res = await post('/_fake/script', { outcomes: [{ type: 'delay' }] });
  assert.equal(res.json().error.field, 'outcomes.0.ms');
  res = await post('/_fake/script', { outcomes: [{ type: 'explode' }] });
  assert.equal(res.json().error.field, 'outcomes.0.type');
  res = await post('/_fake/script', {});
  assert.equal(res.json().error.field, 'outcomes');
});

test('fake routes are not mounted for the wwebjs driver', async (t) => {
  const { createFakeDriver } = require('../src/drivers/fake');
  const driver = createFakeDriver();
  const { app } = buildApp({ env: { WA_DRIVER: 'wwebjs' }, driver });
  t.after(() => app.close());
  const res = await app.inject({ method: 'GET', url: '/_fake/sent', headers: AUTH });
  assert.equal(res.statusCode, 404);
});
