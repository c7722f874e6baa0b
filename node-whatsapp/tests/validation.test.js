'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { buildApp, postMessage, AUTH } = require('./_helpers');

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex').toString('base64');

/**
 * @param {any} res
 * @param {string} field
 * @param {number} [status]
 */
function assertInvalid(res, field, status = 400) {
  assert.equal(res.statusCode, status, res.body);
  const { error } = res.json();
  assert.equal(error.code, 'INVALID_REQUEST');
  assert.equal(error.field, field);
  assert.equal(typeof error.message, 'string');
  assert.doesNotMatch(res.body, /at .*\.js:\d+/); // no stack traces
}

test('missing fields and wrong types name the field', async (t) => {
  const { app, driver } = buildApp();
  t.after(() => app.close());
  assertInvalid(await postMessage(app, {}), 'to');
  assert.match((await postMessage(app, {})).json().error.message, /to: is required/);
  assertInvalid(await postMessage(app, { to: 15551234567, text: 'x' }), 'to');
  assertInvalid(await postMessage(app, { to: '+15551234567' }), 'text');
  assertInvalid(await postMessage(app, { to: '+15551234567', text: '' }), 'text');
  assertInvalid(await postMessage(app, { to: '+15551234567', text: ['x'] }), 'text');
  assertInvalid(await postMessage(app, { to: '+15551234567', text: 'x'.repeat(65537) }), 'text');
  assertInvalid(await postMessage(app, { to: '+15551234567', media: 'abc' }), 'media');
  assertInvalid(await postMessage(app, { to: '+15551234567', media: { data: PNG, mimeType: 'image/png' } }), 'media.filename');
  assertInvalid(await postMessage(app, { to: '+15551234567', media: { data: PNG, filename: 'a.png' } }), 'media.mimeType');
  assertInvalid(await postMessage(app, { to: '+15551234567', media: { data: PNG, filename: 'a.png', mimeType: 'png' } }), 'media.mimeType');
  assertInvalid(await postMessage(app, { to: '+15551234567', media: { filename: 'a.png', mimeType: 'image/png' } }), 'media.data');
  assertInvalid(await postMessage(app, { to: '+15551234567', media: { data: 5, filename: 'a.png', mimeType: 'image/png' } }), 'media.data');
  assertInvalid(
    await postMessage(app, { to: '+15551234567', media: { data: PNG, filename: 'a.png', mimeType: 'image/png', caption: 7 } }),
    'media.caption',
  );
  assertInvalid(await postMessage(app, [1, 2]), 'body');
  assert.equal(driver.sent().length, 0);
});

test('bad base64 is refused', async (t) => {
  const { app, driver } = buildApp();
  t.after(() => app.close());
  for (const data of ['', 'abc', 'ab$d', '====', 'YWJj ZA==', 'YW=J']) {
    assertInvalid(
      await postMessage(app, { to: '+15551234567', media: { data, filename: 'a.bin', mimeType: 'application/octet-stream' } }),
      'media.data',
    );
  }
  // Line-wrapped base64 is fine.
  const ok = await postMessage(app, {
    to: '+15551234567',
    media: { data: 'YWJj\nZGVm', filename: 'a.txt', mimeType: 'text/plain' },
  });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal(driver.sent()[0].media.bytes, 6);
});

test('file names with path parts are refused', async (t) => {
  const { app } = buildApp();
  t.after(() => app.close());
  for (const filename of ['../etc/passwd', 'a/b.png', 'a\\b.png', '..', 'a\u0000.png', '']) {
    assertInvalid(await postMessage(app, { to: '+15551234567', media: { data: PNG, filename, mimeType: 'image/png' } }), 'media.filename');
  }
});

test('invalid recipients answer INVALID_RECIPIENT 422', async (t) => {
  const { app } = buildApp();
  t.after(() => app.close());
  for (const to of ['15551234567', '+1555', '+1234567890123456', '+1 555 123 4567', 'abc@c.us', '123@c.us', 'x@g.us', '+15551234567@c.us', '']) {
    const res = await postMessage(app, { to, text: 'x' });
    assert.equal(res.statusCode, 422, to);
    assert.equal(res.json().error.code, 'INVALID_RECIPIENT');
  }
});

test('oversize body answers 413 INVALID_REQUEST', async (t) => {
  const { app, driver } = buildApp({ env: { WA_BODY_LIMIT_BYTES: '2048' } });
  t.after(() => app.close());
  const res = await postMessage(app, { to: '+15551234567', text: 'x'.repeat(4000) });
  assertInvalid(res, 'body', 413);
  assert.match(res.json().error.message, /2048 bytes/);
  assert.equal(driver.sent().length, 0);
});

test('broken JSON and wrong content type answer 400', async (t) => {
  const { app } = buildApp();
  t.after(() => app.close());
  let res = await app.inject({
    method: 'POST',
    url: '/messages',
    headers: { ...AUTH, 'content-type': 'application/json' },
    payload: '{"to": ',
  });
  assertInvalid(res, 'body');
  res = await app.inject({
    method: 'POST',
    url: '/messages',
    headers: { ...AUTH, 'content-type': 'text/plain' },
    payload: 'to=+15551234567',
  });
  assertInvalid(res, 'body');
  assert.match(res.json().error.message, /application\/json/);
  res = await app.inject({
    method: 'POST',
    url: '/messages',
    headers: { ...AUTH, 'content-type': 'application/json' },
    payload: '',
  });
  assertInvalid(res, 'body');
  assert.match(res.json().error.message, /empty/);
  res = await app.inject({
    method: 'POST',
    url: '/messages',
    headers: { ...AUTH, 'content-type': 'application/json' },
    payload: '{"__proto__": {"x": 1}, "to": "+15551234567", "text": "x"}',
  });
  assertInvalid(res, 'body');
  assert.equal(res.json().error.message, 'request body is not valid JSON'); // prototype poisoning refused
  res = await app.inject({ method: 'GET', url: '/status/%E0%A4%A', headers: AUTH });
  assertInvalid(res, 'url');
  res = await app.inject({ method: 'POST', url: '/messages', headers: AUTH });
  assertInvalid(res, 'body');
  assert.match(res.json().error.message, /body: is required/);
});

test('a bad Idempotency-Key is refused', async (t) => {
  const { app } = buildApp();
  t.after(() => app.close());
  for (const key of ['', 'a b', 'x'.repeat(256), 'é']) {
    const res = await postMessage(app, { to: '+15551234567', text: 'x' }, { 'idempotency-key': key });
    assertInvalid(res, 'headers.idempotency-key');
  }
});

test('media by path is off unless WA_MEDIA_DIR is set', async (t) => {
  const { app } = buildApp();
  t.after(() => app.close());
  const res = await postMessage(app, { to: '+15551234567', media: { path: 'a.png', mimeType: 'image/png' } });
  assertInvalid(res, 'media.path');
  assert.match(res.json().error.message, /WA_MEDIA_DIR/);
  assertInvalid(
    await postMessage(app, { to: '+15551234567', media: { path: 'a.png', data: PNG, filename: 'a.png', mimeType: 'image/png' } }),
    'media.data',
  );
});

test('media by path is confined to WA_MEDIA_DIR', async (t) => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-media-'));
  const mediaDir = path.join(base, 'media');
  fs.mkdirSync(path.join(mediaDir, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(mediaDir, 'sub', 'pic.png'), Buffer.from(PNG, 'base64'));
  fs.writeFileSync(path.join(mediaDir, 'empty.bin'), '');
  fs.writeFileSync(path.join(base, 'secret.txt'), 'top secret');
  fs.writeFileSync(path.join(base, 'big.bin'), Buffer.alloc(4096));
  fs.symlinkSync(path.join(base, 'secret.txt'), path.join(mediaDir, 'link-out.txt'));
  fs.symlinkSync(path.join(mediaDir, 'sub', 'pic.png'), path.join(mediaDir, 'link-in.png'));
  fs.symlinkSync(base, path.join(mediaDir, 'dir-out'));
  fs.writeFileSync(path.join(mediaDir, 'big.bin'), Buffer.alloc(4096));
  t.after(() => fs.rmSync(base, { recursive: true, force: true }));

  const { app, driver } = buildApp({ env: { WA_MEDIA_DIR: mediaDir, WA_BODY_LIMIT_BYTES: '2048' } });
  t.after(() => app.close());
  const send = (p) => postMessage(app, { to: '+15551234567', media: { path: p, mimeType: 'image/png' } });

  let res = await send('sub/pic.png');
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(driver.sent()[0].media, { filename: 'pic.png', mimeType: 'image/png', caption: null, bytes: 16 });
  res = await send('link-in.png');
  assert.equal(res.statusCode, 200, res.body);

  const refused = {
    '../secret.txt': /\.\./,
    'sub/../../secret.txt': /\.\./,
    [path.join(base, 'secret.txt')]: /relative/,
    'link-out.txt': /outside/,
    'dir-out/secret.txt': /outside/,
    'missing.png': /not found/,
    sub: /regular file/,
    'empty.bin': /empty/,
    'big.bin': /larger/,
    'a\u0000b': /relative/,
    'C:\\Windows\\win.ini': /relative/,
  };
  for (const [p, why] of Object.entries(refused)) {
    res = await send(p);
    assertInvalid(res, 'media.path');
    assert.match(res.json().error.message, why, p);
    assert.doesNotMatch(res.body, /top secret/);
  }
  assert.equal(driver.sent().length, 2);
});

test('other client errors from fastify map to INVALID_REQUEST', () => {
  const { classify } = require('../src/app');
  const err = Object.assign(new Error('x'), { statusCode: 400, code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' });
  assert.deepEqual(classify(err, 10).toBody(), { error: { code: 'INVALID_REQUEST', message: 'malformed request', field: 'body' } });
  assert.equal(classify(new Error('boom'), 10), null);
  assert.equal(classify(null, 10), null);
});
