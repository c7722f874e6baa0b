'use strict';

// Keeps openapi.json true: the routes served and the routes documented are
// the same set, and real responses validate against the documented schemas.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;
const spec = require('../openapi.json');
const { ERROR_CODES } = require('../src/errors');
const { buildApp, postMessage, AUTH } = require('./_helpers');

const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'];

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(spec, 'openapi.json');

/** @param {string} p */
const pointer = (p) => p.replace(/~/g, '~0').replace(/\//g, '~1');

/** "METHOD /path" for every documented operation. */
function documentedRoutes() {
  const out = [];
  for (const [p, item] of Object.entries(spec.paths)) {
    for (const m of Object.keys(item)) if (METHODS.includes(m)) out.push(`${m.toUpperCase()} ${p}`);
  }
  return out.sort();
}

/**
 * Check a response against the documented operation.
 * @param {any} res light-my-request response
 * @param {string} method
 * @param {string} route
 */
function conforms(res, method, route) {
  const op = spec.paths[route]?.[method.toLowerCase()];
  assert.ok(op, `${method} ${route} is documented`);
  const status = String(res.statusCode);
  const declared = op.responses[status] ?? op.responses.default;
  assert.ok(declared, `${method} ${route} documents status ${status}`);
  const type = String(res.headers['content-type'] ?? '').split(';')[0];
  const content = declared.content ?? {};
  assert.ok(content[type], `${method} ${route} ${status} documents content type ${type}`);
  for (const header of Object.keys(declared.headers ?? {})) {
    assert.ok(res.headers[header.toLowerCase()] !== undefined, `${method} ${route} ${status} sends ${header}`);
  }
  if (type === 'application/json') {
    const ref = `openapi.json#/paths/${pointer(route)}/${method.toLowerCase()}/responses/${declared === op.responses[status] ? status : 'default'}/content/${pointer(type)}/schema`;
    const validate = ajv.compile({ $ref: ref });
    assert.ok(validate(res.json()), `${method} ${route} ${status}: ${ajv.errorsText(validate.errors)} in ${res.body}`);
  }
}

test('every served route is documented and every documented route is served', async (t) => {
  const { app } = buildApp();
  t.after(() => app.close());
  await app.ready();
  const served = app.servedRoutes().map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, "{$1}")}`).sort();
  assert.deepEqual(served, documentedRoutes());
});

test('without the fake driver, only the core routes are served, all documented', async (t) => {
  const { createFakeDriver } = require('../src/drivers/fake');
  const { app } = buildApp({ env: { WA_DRIVER: 'wwebjs' }, driver: createFakeDriver() });
  t.after(() => app.close());
  await app.ready();
  const served = app.servedRoutes().map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, "{$1}")}`).sort();
  assert.deepEqual(served, documentedRoutes().filter((r) => !r.includes('/_fake/')));
});

test('documented error codes are exactly the service error codes', () => {
  assert.deepEqual([...spec.components.schemas.ErrorCode.enum].sort(), Object.keys(ERROR_CODES).sort());
  assert.deepEqual(spec.components.schemas.State.enum, require('../src/config').STATES);
});

test('real responses match the documented schemas', async (t) => {
  const { app, driver } = buildApp({ env: { WA_BODY_LIMIT_BYTES: '4096', WA_SEND_TIMEOUT_MS: '50' } });
  t.after(() => app.close());
  const get = (url, headers = AUTH) => app.inject({ method: 'GET', url, headers });
  const post = (url, payload, headers = AUTH) => app.inject({ method: 'POST', url, payload, headers });
  const send = (payload, headers) => postMessage(app, payload, headers);
  const msg = { to: '+15551234567', text: 'x' };

  conforms(await get('/health', {}), 'GET', '/health');
  conforms(await get('/status'), 'GET', '/status');
  conforms(await get('/status', {}), 'GET', '/status');
  conforms(await get('/qr'), 'GET', '/qr');
  conforms(await get('/qr?format=bmp'), 'GET', '/qr');
  driver.setState('qr');
  conforms(await get('/qr'), 'GET', '/qr');
  conforms(await get('/qr?format=text'), 'GET', '/qr');
  conforms(await send(msg), 'POST', '/messages'); // 503 NOT_READY
  driver.setState('ready');

  conforms(await send(msg, { 'idempotency-key': 'a' }), 'POST', '/messages');
  conforms(await send(msg, { 'idempotency-key': 'a' }), 'POST', '/messages');
  conforms(await send({ ...msg, text: 'y' }, { 'idempotency-key': 'a' }), 'POST', '/messages');
  conforms(await send({ to: 5 }), 'POST', '/messages');
  conforms(await send({ ...msg, text: 'x'.repeat(5000) }), 'POST', '/messages');
  conforms(await send({ ...msg, to: 'bad' }), 'POST', '/messages');
  conforms(await postMessage(app, msg, { authorization: 'Bearer nope' }), 'POST', '/messages');
  for (const outcome of [
    { type: 'fail', code: 'NOT_ON_WHATSAPP' },
    { type: 'fail', code: 'RATE_LIMITED' },
    { type: 'fail', code: 'INTERNAL' },
    { type: 'hang' },
  ]) {
    driver.setScript([outcome]);
    conforms(await send(msg), 'POST', '/messages');
  }
  driver.setScript([{ type: 'delay', ms: 30 }]);
  const slow = send(msg, { 'idempotency-key': 'slow' });
  await new Promise((r) => setTimeout(r, 5));
  conforms(await send(msg, { 'idempotency-key': 'slow' }), 'POST', '/messages'); // 409
  conforms(await slow, 'POST', '/messages');

  conforms(await post('/_fake/state', { state: 'ready', reason: null }), 'POST', '/_fake/state');
  conforms(await post('/_fake/state', { state: 'nope' }), 'POST', '/_fake/state');
  conforms(await post('/_fake/script', { outcomes: [{ type: 'accept' }] }), 'POST', '/_fake/script');
  conforms(await post('/_fake/script', { outcomes: 'x' }), 'POST', '/_fake/script');
  const withMedia = await send({ to: '+15551234567', media: { data: 'YWJj', filename: 'a.txt', mimeType: 'text/plain' } });
  conforms(await get('/_fake/sent'), 'GET', '/_fake/sent');
  const id = withMedia.json().id;
  conforms(await get(`/messages/${encodeURIComponent(id)}`), 'GET', '/messages/{id}');
  conforms(await get('/messages/unknown-id'), 'GET', '/messages/{id}');
  conforms(await post('/_fake/ack', { id, ack: 'read' }), 'POST', '/_fake/ack');
  conforms(await post('/_fake/ack', { id: 'unknown', ack: 'read' }), 'POST', '/_fake/ack');
  conforms(await post('/_fake/ack', { id, ack: 'seen' }), 'POST', '/_fake/ack');
  conforms(await app.inject({ method: 'POST', url: '/messages', headers: { ...AUTH, 'content-type': 'application/json' }, payload: '{"to":"+15551234567","text":"x","__proto__":{"a":1}}' }), 'POST', '/messages');
  conforms(await app.inject({ method: 'POST', url: '/_fake/reset', headers: AUTH }), 'POST', '/_fake/reset');
});

test('the spec file is valid JSON with OpenAPI 3.1 basics', () => {
  assert.equal(spec.openapi, '3.1.0');
  assert.ok(spec.components.securitySchemes.bearer);
  assert.deepEqual(spec.paths['/health'].get.security, []);
  assert.equal(path.basename(require.resolve('../openapi.json')), 'openapi.json');
});
