'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { createLogger, maskRecipient, maskText } = require('../src/logger');
const { buildApp, postMessage, logSink, TOKEN, AUTH } = require('./_helpers');

test('maskRecipient keeps the first digit and the last two', () => {
  assert.equal(maskRecipient('+4915112345667'), '+4**********67');
  assert.equal(maskRecipient('+15551234567'), '+1********67');
  assert.equal(maskRecipient('15551234567@c.us'), '1********67@c.us');
  assert.equal(maskRecipient('120363025246125888@g.us'), '1***************88@g.us');
  assert.equal(maskRecipient('123'), '***');
  assert.equal(maskRecipient(42), '42');
});

test('maskText masks digit runs that look like phone numbers', () => {
  assert.equal(maskText('failed for 15551234567@c.us and +4915112345667'), 'failed for 1********67@c.us and +4**********67');
  assert.equal(maskText('code 500 at 12:30'), 'code 500 at 12:30');
});

test('logs are JSON lines with ISO time and a level label; tokens are redacted', () => {
  const sink = logSink();
  const logger = createLogger({ level: 'info', destination: sink.stream });
  logger.info({ token: 'abc', headers: { authorization: 'Bearer abc' }, config: { token: 'abc' } }, 'hello');
  logger.debug('hidden');
  assert.equal(sink.lines.length, 1);
  const [line] = sink.lines;
  assert.equal(line.level, 'info');
  assert.equal(line.msg, 'hello');
  assert.equal(line.service, 'node-whatsapp');
  assert.match(line.time, /^\d{4}-\d\d-\d\dT/);
  assert.doesNotMatch(JSON.stringify(line), /abc/);
});

test('a send logs masked numbers and never the token', async (t) => {
  const { app, driver, logs } = buildApp();
  t.after(() => app.close());
  await postMessage(app, { to: '+15551234567', text: 'secret text' });
  driver.setScript([{ type: 'fail', code: 'NOT_ON_WHATSAPP' }]);
  await postMessage(app, { to: '+15551234567', text: 'secret text' });
  await app.inject({ method: 'GET', url: '/status', headers: { authorization: `Bearer ${TOKEN}-wrong` } });
  await app.inject({ method: 'GET', url: '/status', headers: AUTH });
  const text = logs.text();
  assert.match(text, /"msg":"message sent"/);
  assert.match(text, /"to":"1\*{8}67@c\.us"/);
  assert.match(text, /"code":"NOT_ON_WHATSAPP"/);
  assert.doesNotMatch(text, /15551234567/);
  assert.doesNotMatch(text, new RegExp(TOKEN));
  assert.doesNotMatch(text, /secret text/);
  const request = logs.lines.find((l) => l.msg === 'request' && l.route === '/status');
  assert.deepEqual(Object.keys(request).sort(), ['level', 'method', 'ms', 'msg', 'route', 'service', 'status', 'time']);
});

test('driver state changes are logged', async (t) => {
  const { app, driver, logs } = buildApp();
  t.after(() => app.close());
  driver.setState('failed', 'no network');
  assert.ok(logs.lines.some((l) => l.msg === 'driver state' && l.state === 'failed' && l.reason === 'no network'));
});
