'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { EventEmitter } = require('node:events');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { main, EXIT_CONFIG } = require('../src/main');
const { logSink, TOKEN, sleep, runServer } = require('./_helpers');

const SERVER = path.join(__dirname, '..', 'src', 'server.js');

/** A stand-in for `process`: signals are emitted by the test, exit is recorded. */
function fakeProc() {
  const proc = new EventEmitter();
  /** @type {number[]} */
  proc.exits = [];
  proc.exit = (code) => proc.exits.push(code);
  return proc;
}

/**
 * @param {Record<string, string>} env
 */
async function start(env) {
  const proc = fakeProc();
  const sink = logSink();
  const result = await main({ env: { WA_LOG_LEVEL: 'info', ...env }, proc, destination: sink.stream });
  return { proc, sink, result };
}

test('refuses a non-loopback host without a token: exit code 2 and a clear message', async () => {
  const { proc, sink, result } = await start({ WA_HOST: '0.0.0.0', WA_DRIVER: 'fake' });
  assert.equal(result.exitCode, EXIT_CONFIG);
  assert.equal(proc.exitCode, 2);
  assert.equal(sink.lines[0].level, 'fatal');
  assert.match(sink.lines[0].msg, /refusing to start: WA_TOKEN must be set/);
});

test('refuses invalid settings with exit code 2', async () => {
  const { result, sink } = await start({ WA_PORT: 'x' });
  assert.equal(result.exitCode, 2);
  assert.match(sink.lines[0].msg, /WA_PORT/);
});

test('unexpected startup errors are thrown to the caller', async () => {
  await assert.rejects(
    main({ env: { WA_DRIVER: 'fake', WA_PORT: '0' }, proc: fakeProc(), destination: logSink().stream, createDriver: () => {
      throw new Error('driver exploded');
    } }),
    /driver exploded/,
  );
  await assert.rejects(main({ env: { get WA_HOST() { throw new Error('env broken'); } }, proc: fakeProc(), destination: logSink().stream }), /env broken/);
});

test('listens, logs the real port, serves, and stops on SIGTERM', async () => {
  const { proc, sink, result } = await start({ WA_DRIVER: 'fake', WA_TOKEN: TOKEN, WA_PORT: '0' });
  const listening = sink.lines.find((l) => l.msg === 'listening');
  assert.equal(listening.host, '127.0.0.1');
  assert.ok(Number.isInteger(listening.port) && listening.port > 0);
  const res = await fetch(`http://127.0.0.1:${listening.port}/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal((await res.json()).state, 'ready');

  proc.emit('unhandledRejection', new Error('stray rejection for 15551234567'));
  assert.ok(sink.lines.some((l) => l.msg === 'unhandled promise rejection' && !/15551234567/.test(l.err)));

  proc.emit('SIGTERM');
  assert.equal(await result.stopped, 0);
  assert.equal(proc.exitCode, 0);
  assert.deepEqual(proc.exits, []);
  assert.ok(sink.lines.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM'));
  assert.equal(sink.lines.at(-1).msg, 'stopped');
  assert.equal(proc.listenerCount('unhandledRejection'), 0);
  assert.doesNotMatch(sink.text(), new RegExp(TOKEN));
});

test('SIGINT stops too; a second signal exits at once', async () => {
  const { proc, result } = await start({ WA_DRIVER: 'fake', WA_TOKEN: TOKEN, WA_PORT: '0' });
  proc.emit('SIGINT');
  proc.emit('SIGINT');
  assert.deepEqual(proc.exits, [1]);
  assert.equal(await result.stopped, 0);
});

test('a failing shutdown exits 1', async () => {
  const proc = fakeProc();
  const sink = logSink();
  const { createFakeDriver } = require('../src/drivers/fake');
  const result = await main({
    env: { WA_DRIVER: 'fake', WA_TOKEN: TOKEN, WA_PORT: '0' },
    proc,
    destination: sink.stream,
    createDriver: () => {
      const driver = createFakeDriver();
      driver.stop = async () => {
        throw new Error('stop failed');
      };
      return driver;
    },
  });
  proc.emit('SIGTERM');
  assert.equal(await result.stopped, 1);
  assert.equal(proc.exitCode, 1);
  assert.ok(sink.lines.some((l) => l.msg === 'shutdown failed'));
});

test('a shutdown stuck past the grace period is forced', async () => {
  const proc = fakeProc();
  const { createFakeDriver } = require('../src/drivers/fake');
  /** @type {Array<() => void>} */
  const timers = [];
  const clock = { now: Date.now, setTimeout: (fn) => (timers.push(fn), { unref() {} }), clearTimeout() {} };
  const result = await main({
    env: { WA_DRIVER: 'fake', WA_TOKEN: TOKEN, WA_PORT: '0', WA_SHUTDOWN_GRACE_MS: '0' },
    proc,
    clock,
    destination: logSink().stream,
    createDriver: () => {
      const driver = createFakeDriver();
      driver.stop = () => new Promise(() => {});
      return driver;
    },
  });
  proc.emit('SIGTERM');
  await sleep(50);
  timers.forEach((fn) => fn());
  assert.deepEqual(proc.exits, [1]);
  await result.app.server.close();
});

test('warns when WA_TOKEN is not set', async () => {
  for (const [env, pattern] of [
    [{}, /every route except \/health answers 401/],
    [{ WA_INSECURE_NO_AUTH: '1' }, /WA_INSECURE_NO_AUTH=1/],
  ]) {
    const { proc, sink, result } = await start({ WA_DRIVER: 'fake', WA_PORT: '0', ...env });
    assert.ok(sink.lines.some((l) => l.level === 'warn' && pattern.test(l.msg)));
    proc.emit('SIGTERM');
    await result.stopped;
  }
});

test('wwebjs driver without a browser: the service stays up and /status says why', async () => {
  const authDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-auth-'));
  const { proc, sink, result } = await start({
    WA_TOKEN: TOKEN,
    WA_PORT: '0',
    WA_AUTH_DIR: authDir,
    WA_CHROMIUM_PATH: path.join(authDir, 'no-such-chromium'),
    WA_INIT_TIMEOUT_MS: '20000',
  });
  const { port } = sink.lines.find((l) => l.msg === 'listening');
  const status = async () =>
    (await fetch(`http://127.0.0.1:${port}/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
  let body = await status();
  for (let i = 0; i < 100 && body.state !== 'failed'; i += 1) {
    await sleep(100);
    body = await status();
  }
  assert.equal(body.state, 'failed');
  assert.match(body.reason, /could not reach WhatsApp Web/);
  const health = await fetch(`http://127.0.0.1:${port}/health`);
  assert.equal(health.status, 200);
  const send = await fetch(`http://127.0.0.1:${port}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ to: '+15551234567', text: 'x' }),
  });
  assert.equal(send.status, 503);
  assert.equal((await send.json()).error.code, 'NOT_READY');
  proc.emit('SIGTERM');
  assert.equal(await result.stopped, 0);
  fs.rmSync(authDir, { recursive: true, force: true });
});

test('the real process: listening line on stdout, answers on 127.0.0.1, SIGTERM exits 0', async () => {
  const run = runServer({ WA_DRIVER: 'fake', WA_TOKEN: 'x', WA_PORT: '0' });
  const listening = await run.line('listening');
  assert.equal(listening.host, '127.0.0.1');
  const res = await fetch(`http://127.0.0.1:${listening.port}/health`);
  assert.deepEqual(await res.json(), { status: 'ok' });
  run.child.kill('SIGTERM');
  assert.deepEqual(await run.exited, { code: 0, signal: null });
  assert.match(run.output(), /"msg":"stopped"/);
});

test('the real process: refuses 0.0.0.0 without a token with exit code 2', async () => {
  const run = runServer({ WA_DRIVER: 'fake', WA_HOST: '0.0.0.0' });
  assert.deepEqual(await run.exited, { code: 2, signal: null });
  assert.match(run.output(), /WA_TOKEN must be set/);
});

test('the real process: a port in use is a startup failure with exit code 1', async () => {
  const first = runServer({ WA_DRIVER: 'fake', WA_TOKEN: 'x', WA_PORT: '0' });
  const { port } = await first.line('listening');
  const second = runServer({ WA_DRIVER: 'fake', WA_TOKEN: 'x', WA_PORT: String(port) });
  assert.deepEqual(await second.exited, { code: 1, signal: null });
  assert.match(second.output(), /startup failed/);
  first.child.kill('SIGTERM');
  await first.exited;
});

test('npm start passes SIGTERM to the service (no orphaned server)', async () => {
  const child = spawn('npm', ['start', '--silent'], {
    cwd: path.join(__dirname, '..'),
    env: { ...process.env, WA_DRIVER: 'fake', WA_TOKEN: 'x', WA_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  for (let i = 0; i < 100 && !/"msg":"listening"/.test(out); i += 1) await sleep(100);
  const { port } = JSON.parse(out.split('\n').find((l) => l.includes('"msg":"listening"')));
  child.kill('SIGTERM');
  await exited;
  for (let i = 0; i < 50 && !/"msg":"stopped"/.test(out); i += 1) await sleep(100);
  assert.match(out, /"msg":"stopped"/);
  await assert.rejects(fetch(`http://127.0.0.1:${port}/health`));
});
