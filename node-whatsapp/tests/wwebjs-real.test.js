'use strict';

// The real wwebjs driver: whatsapp-web.js and puppeteer driving Debian's
// Chromium (/usr/bin/chromium) against a loopback STAND-IN for WhatsApp Web
// (tests/standin/: a local TLS server and a page that stubs only what
// whatsapp-web.js calls; real WhatsApp Web differs). The service runs as a
// real process. These tests skip only when /usr/bin/chromium is absent.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startStandIn } = require('./standin/server');
const { runServer, TOKEN, AUTH, sleep } = require('./_helpers');

const CHROMIUM = '/usr/bin/chromium';
const skip = fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`;

/** @param {number} pid @returns {number[]} pid and all its descendants */
function processTree(pid) {
  const out = [pid];
  for (let i = 0; i < out.length; i += 1) {
    let tasks = [];
    try {
      tasks = fs.readdirSync(`/proc/${out[i]}/task`);
    } catch {
      continue;
    }
    for (const task of tasks) {
      try {
        const kids = fs.readFileSync(`/proc/${out[i]}/task/${task}/children`, 'utf8').trim();
        if (kids) out.push(...kids.split(/\s+/).map(Number));
      } catch {
        // the task ended meanwhile
      }
    }
  }
  return out;
}

/** @param {number} pid */
const comm = (pid) => {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};

/**
 * Wait (at most 5 s) until none of these processes runs any more.
 * @param {number[]} pids
 * @returns {Promise<number[]>} those still running
 */
async function gone(pids) {
  const running = () =>
    pids.filter((p) => {
      try {
        return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${p}/stat`, 'utf8'));
      } catch {
        return false;
      }
    });
  for (let i = 0; i < 50 && running().length > 0; i += 1) await sleep(100);
  return running();
}

/**
 * TCP ports that any process of the tree listens on (from /proc/net/tcp{,6}
 * LISTEN entries, matched to the processes' socket inodes).
 * @param {number} pid
 */
function listeningPorts(pid) {
  /** @type {Map<string, number>} inode -> port */
  const listening = new Map();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && cols[3] === '0A') listening.set(cols[9], parseInt(cols[1].split(':')[1], 16));
    }
  }
  const ports = new Set();
  for (const p of processTree(pid)) {
    let fds = [];
    try {
      fds = fs.readdirSync(`/proc/${p}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target = '';
      try {
        target = fs.readlinkSync(`/proc/${p}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && listening.has(m[1])) ports.add(listening.get(m[1]));
    }
  }
  return [...ports].sort();
}

/**
 * The service with the real driver, pointed at the stand-in.
 * @param {Awaited<ReturnType<typeof startStandIn>>} standIn
 * @param {Record<string, string>} [env]
 */
async function startService(standIn, env = {}) {
  const authDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-real-'));
  const run = runServer({
    WA_TOKEN: TOKEN,
    WA_PORT: '0',
    WA_AUTH_DIR: path.join(authDir, 'auth'),
    WA_CHROMIUM_PATH: CHROMIUM,
    WA_CHROMIUM_EXTRA_ARGS: JSON.stringify(standIn.chromiumArgs),
    WA_MIN_CHAT_GAP_MS: '0',
    WA_PROBE_INTERVAL_MS: '1000',
    WA_PROBE_TIMEOUT_MS: '5000',
    WA_SHUTDOWN_GRACE_MS: '8000',
    WA_SEND_TIMEOUT_MS: '15000',
    ...env,
  });
  const { port } = /** @type {any} */ (await run.line('listening'));
  const base = `http://127.0.0.1:${port}`;
  const status = async () => /** @type {any} */ (await (await fetch(`${base}/status`, { headers: AUTH })).json());
  /** @param {string} state @param {number} [ms] */
  const until = async (state, ms = 45000) => {
    const deadline = Date.now() + ms;
    let s = await status();
    while (s.state !== state && Date.now() < deadline) {
      await sleep(100);
      s = await status();
    }
    assert.equal(s.state, state, `state ${state} within ${ms} ms (last: ${JSON.stringify(s)}; stand-in events: ${JSON.stringify(standIn.events)})`);
    return s;
  };
  /** @param {unknown} body */
  const send = async (body) => {
    const res = await fetch(`${base}/messages`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: /** @type {any} */ (await res.json()) };
  };
  const chromiumPids = () => processTree(run.child.pid ?? 0).filter((p) => comm(p).startsWith('chrom'));
  const cleanup = () => {
    for (const p of processTree(run.child.pid ?? 0).reverse()) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    fs.rmSync(authDir, { recursive: true, force: true });
  };
  return { run, port, base, status, until, send, chromiumPids, cleanup, authDir: path.join(authDir, 'auth') };
}

test('real driver: QR login to ready, send, ack, no TCP port, Chromium killed, frozen page, SIGTERM during a send', { skip, timeout: 150000 }, async (t) => {
  const standIn = await startStandIn();
  const svc = await startService(standIn);
  t.after(async () => {
    svc.cleanup();
    await standIn.close();
  });

  await t.test('login goes through the QR state to ready', async () => {
    await svc.until('qr');
    const qr = await fetch(`${svc.base}/qr?format=text`, { headers: AUTH });
    assert.match(await qr.text(), /^standin-ref-1,/);
    standIn.command({ type: 'scan' });
    await svc.until('ready', 45000);
  });

  await t.test('no process of the service listens on a TCP port but the service itself', async () => {
    assert.ok(svc.chromiumPids().length > 0, 'Chromium runs under the service');
    assert.deepEqual(listeningPorts(svc.run.child.pid ?? 0), [svc.port]);
    const sessionDir = path.join(svc.authDir, 'session');
    assert.equal(fs.existsSync(path.join(sessionDir, 'DevToolsActivePort')), false);
    assert.equal(fs.statSync(svc.authDir).mode & 0o777, 0o700);
    assert.equal(fs.statSync(sessionDir).mode & 0o777, 0o700);
    const files = fs.readdirSync(sessionDir, { recursive: true }).map((f) => path.join(sessionDir, String(f)));
    const loose = files.filter((f) => fs.lstatSync(f).isFile() && (fs.lstatSync(f).mode & 0o077) !== 0);
    assert.deepEqual(loose, [], 'session files are owner-only');
  });

  let sentId = '';
  await t.test('send, then the delivery ack reaches GET /messages/{id}', async () => {
    const res = await svc.send({ to: '+15551234567', text: 'hello from the real driver' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    sentId = res.body.id;
    const sent = await standIn.waitFor((e) => e.type === 'sent' && e.id === sentId);
    assert.deepEqual([sent.to, sent.body], ['15551234567@c.us', 'hello from the real driver']);
    const unknown = await svc.send({ to: '+15550000000', text: 'x' });
    assert.deepEqual([unknown.status, unknown.body.error.code], [422, 'NOT_ON_WHATSAPP']);
    standIn.command({ type: 'ack', id: sentId, ack: 3 });
    let ack;
    for (let i = 0; i < 100; i += 1) {
      ack = /** @type {any} */ (await (await fetch(`${svc.base}/messages/${encodeURIComponent(sentId)}`, { headers: AUTH })).json());
      if (ack.ack === 'read') break;
      await sleep(50);
    }
    assert.equal(ack.ack, 'read');
  });

  await t.test('Chromium killed with SIGKILL: the service notices and relaunches it', async () => {
    const [browser] = svc.chromiumPids();
    process.kill(browser, 'SIGKILL');
    const failed = await svc.until('failed', 20000);
    assert.match(failed.reason, /Chromium exited/);
    await svc.until('ready', 45000); // the linked account syncs again in the new browser
    assert.equal(svc.chromiumPids().includes(browser), false);
  });

  await t.test('a page that freezes while idle is found by the probe and recycled', async () => {
    standIn.command({ type: 'freeze' });
    await standIn.waitFor((e) => e.type === 'frozen');
    const failed = await svc.until('failed', 20000);
    assert.equal(failed.reason, 'WhatsApp Web stopped answering');
    await svc.until('ready', 45000);
  });

  await t.test('SIGTERM during a send: the send completes within the grace period, exit 0', async () => {
    standIn.command({ type: 'delaySend', ms: 1500 });
    await standIn.waitFor((e) => e.type === 'done' && e.command === 'delaySend');
    const before = standIn.events.length;
    const browsers = svc.chromiumPids();
    const pending = svc.send({ to: '+15551234567', text: 'in flight at SIGTERM' });
    await standIn.waitFor((e) => e.type === 'sendStarted' && standIn.events.indexOf(e) >= before);
    svc.run.child.kill('SIGTERM');
    const res = await pending;
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(await svc.run.exited, { code: 0, signal: null });
    assert.ok(svc.run.lines('stopped').length === 1);
    assert.deepEqual(await gone(browsers), [], 'Chromium was closed');
  });
});

test('real driver: SIGINT stops the service with exit code 0 and closes Chromium', { skip, timeout: 60000 }, async (t) => {
  const standIn = await startStandIn();
  const svc = await startService(standIn);
  t.after(async () => {
    svc.cleanup();
    await standIn.close();
  });
  await svc.until('qr');
  const browsers = svc.chromiumPids();
  assert.ok(browsers.length > 0);
  svc.run.child.kill('SIGINT');
  assert.deepEqual(await svc.run.exited, { code: 0, signal: null }, svc.run.output().slice(-2000));
  assert.ok(svc.run.lines('shutting down').some((l) => l.signal === 'SIGINT'));
  assert.deepEqual(await gone(browsers), [], 'no Chromium left behind');
});
