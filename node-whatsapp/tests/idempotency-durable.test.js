'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const Database = require('better-sqlite3');
const { SqliteIdempotencyStore } = require('../src/idempotency/sqlite');
const { FakeClock, TOKEN, runServer, sleep } = require('./_helpers');

function tmpDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-state-'));
  test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** @param {string} file @param {FakeClock} clock @param {object} [extra] */
const open = (file, clock, extra = {}) => new SqliteIdempotencyStore({ file, ttlMs: 1000, maxKeys: 100, clock, ...extra });

test('sqlite store: results, unknown outcomes and in-flight claims survive a reopen', () => {
  const file = path.join(tmpDir(), 'keys.sqlite3');
  const clock = new FakeClock();
  let store = open(file, clock);
  assert.deepEqual(store.begin('sent', 'f'), { kind: 'new' });
  store.complete('sent', { id: 'm1', to: 'x' });
  store.begin('amb', 'f');
  store.markUnknown('amb');
  store.begin('flying', 'f');
  store.begin('failed', 'f');
  store.release('failed');
  assert.equal(store.size, 3);
  store.close();
  store.complete('after-close', {}); // late confirmations after close are dropped, not thrown

  store = open(file, clock);
  assert.deepEqual(store.begin('sent', 'f'), { kind: 'replay', result: { id: 'm1', to: 'x' } });
  assert.deepEqual(store.begin('sent', 'g'), { kind: 'mismatch' });
  assert.deepEqual(store.begin('amb', 'f'), { kind: 'unknown' });
  assert.deepEqual(store.begin('flying', 'f'), { kind: 'unknown' }, 'in flight when the process died: may have been sent');
  assert.deepEqual(store.begin('failed', 'f'), { kind: 'new' });
  store.storeIfAbsent('flying', 'f', { id: 'late' });
  assert.deepEqual(store.begin('flying', 'f'), { kind: 'replay', result: { id: 'late' } });
  store.close();
});

test('sqlite store: files are owner-only, writes are fully synced, a second opener is refused', () => {
  const dir = path.join(tmpDir(), 'state');
  const file = path.join(dir, 'keys.sqlite3');
  const store = open(file, new FakeClock());
  store.begin('k', 'f');
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(store.db.pragma('synchronous', { simple: true }), 2, 'synchronous=FULL');
  assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
  for (const name of fs.readdirSync(dir)) assert.equal(fs.statSync(path.join(dir, name)).mode & 0o077, 0, name);
  assert.throws(() => open(file, new FakeClock()), /locked|busy/i);
  store.close();
});

test('sqlite store: expired keys are pruned; in-flight keys are kept', () => {
  const file = path.join(tmpDir(), 'keys.sqlite3');
  const clock = new FakeClock();
  const store = open(file, clock);
  store.begin('old', 'f');
  store.complete('old', {});
  store.begin('amb', 'f');
  store.markUnknown('amb');
  store.begin('flying', 'f');
  clock.t += 1000;
  store.sweep();
  assert.equal(store.size, 1);
  assert.deepEqual(store.begin('old', 'f'), { kind: 'new' });
  assert.deepEqual(store.begin('flying', 'f'), { kind: 'in_flight' });
  store.close();
});

test('sqlite store: size is bounded, results go before unknown outcomes, in-flight keys stay', () => {
  const file = path.join(tmpDir(), 'keys.sqlite3');
  const clock = new FakeClock();
  const store = open(file, clock, { maxKeys: 3 });
  store.begin('amb', 'f');
  store.markUnknown('amb');
  store.begin('fly', 'f');
  clock.t += 1;
  store.begin('done1', 'f');
  store.complete('done1', {});
  store.begin('new', 'f');
  assert.equal(store.size, 3);
  assert.deepEqual(store.begin('done1', 'f'), { kind: 'new' }, 'the result was evicted first');
  assert.equal(store.begin('amb', 'f').kind, 'new', 'then the unknown outcome');
  assert.equal(store.begin('fly', 'f').kind, 'in_flight');
  store.close();
});

/**
 * Start the real service with the fake driver and a durable store.
 * @param {string} stateDir
 * @param {Record<string, string>} [env]
 */
async function start(stateDir, env = {}) {
  const run = runServer({ WA_DRIVER: 'fake', WA_TOKEN: TOKEN, WA_PORT: '0', WA_STATE_DIR: stateDir, ...env });
  const { port } = /** @type {any} */ (await run.line('listening'));
  const base = `http://127.0.0.1:${port}`;
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  /** @param {unknown} body @param {string} key */
  const send = async (body, key) => {
    const res = await fetch(`${base}/messages`, { method: 'POST', headers: { ...headers, 'idempotency-key': key }, body: JSON.stringify(body) });
    return { status: res.status, body: /** @type {any} */ (await res.json()) };
  };
  const sent = async () => (/** @type {any} */ (await (await fetch(`${base}/_fake/sent`, { headers })).json())).messages;
  /** @param {unknown} outcomes */
  const script = (outcomes) => fetch(`${base}/_fake/script`, { method: 'POST', headers, body: JSON.stringify({ outcomes }) });
  const stop = async () => {
    run.child.kill('SIGTERM');
    return run.exited;
  };
  return { run, send, sent, script, stop };
}

const MSG = { to: '+15551234567', text: 'your order shipped' };

test('restart: a sent key replays, a different body with it is refused, nothing is sent twice', async () => {
  const dir = tmpDir();
  let svc = await start(dir);
  const first = await svc.send(MSG, 'order-1');
  assert.equal(first.status, 200);
  assert.deepEqual(await svc.stop(), { code: 0, signal: null });

  svc = await start(dir);
  const again = await svc.send(MSG, 'order-1');
  assert.equal(again.status, 200);
  assert.deepEqual(again.body, { ...first.body, replayed: true });
  const other = await svc.send({ ...MSG, text: 'something else' }, 'order-1');
  assert.deepEqual([other.status, other.body.error.code], [422, 'IDEMPOTENCY_MISMATCH']);
  assert.deepEqual(await svc.sent(), [], 'the new process sent nothing');
  await svc.stop();
});

test('restart: a key in flight when the process was killed (kill -9) answers 409 OUTCOME_UNKNOWN', async () => {
  const dir = tmpDir();
  let svc = await start(dir);
  await svc.script([{ type: 'hang' }]);
  const hung = svc.send(MSG, 'order-2').catch(() => null);
  let probe;
  for (let i = 0; i < 100; i += 1) {
    probe = await svc.send(MSG, 'order-2');
    if (probe.body.error?.code === 'IN_FLIGHT') break;
    await sleep(20);
  }
  assert.equal(probe?.body.error.code, 'IN_FLIGHT');
  svc.run.child.kill('SIGKILL');
  assert.equal((await svc.run.exited).signal, 'SIGKILL');
  await hung;

  svc = await start(dir);
  const retry = await svc.send(MSG, 'order-2');
  assert.deepEqual([retry.status, retry.body.error.code], [409, 'OUTCOME_UNKNOWN']);
  assert.ok(svc.run.lines('keys in flight when the service last stopped now answer OUTCOME_UNKNOWN').length === 1);
  assert.deepEqual(await svc.sent(), []);
  const fresh = await svc.send(MSG, 'order-2b');
  assert.equal(fresh.status, 200, 'a new key sends');
  await svc.stop();
});

test('restart: expired keys are pruned from the file and send again', async () => {
  const dir = tmpDir();
  let svc = await start(dir, { WA_IDEMPOTENCY_TTL_MS: '300' });
  assert.equal((await svc.send(MSG, 'short-lived')).status, 200);
  await svc.stop();
  await sleep(350);
  svc = await start(dir, { WA_IDEMPOTENCY_TTL_MS: '300' });
  await svc.stop();
  const db = new Database(path.join(dir, 'idempotency.sqlite3'), { readonly: true });
  assert.equal(/** @type {any} */ (db.prepare('SELECT count(*) AS n FROM idempotency_keys').get()).n, 0);
  db.close();
  svc = await start(dir, { WA_IDEMPOTENCY_TTL_MS: '300' });
  const again = await svc.send(MSG, 'short-lived');
  assert.deepEqual([again.status, again.body.replayed], [200, false]);
  assert.equal((await svc.sent()).length, 1);
  await svc.stop();
});
