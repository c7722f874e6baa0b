'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { buildApp, AUTH, TOKEN, runServer, sleep } = require('./_helpers');

/**
 * Write raw bytes to the server and collect the answer until the server closes.
 * @param {number} port
 * @param {string} request
 * @param {{keepOpenMs?: number}} [options]
 * @returns {Promise<{raw: string, status: number, headers: string, body: any, closedAfterMs: number}>}
 */
function raw(port, request, { keepOpenMs = 0 } = {}) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let data = '';
    const trickle = keepOpenMs
      ? setInterval(() => {
          if (!socket.destroyed) socket.write('x');
        }, 50)
      : null;
    socket.on('data', (chunk) => {
      data += chunk;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      if (trickle) clearInterval(trickle);
      const [head, body] = data.split('\r\n\r\n');
      if (!head) return reject(new Error('no answer'));
      resolve({ raw: data, status: Number(head.split(' ')[1]), headers: head, body: body ? JSON.parse(body) : null, closedAfterMs: Date.now() - started });
    });
  });
}

async function listen(env = {}) {
  const ctx = buildApp({ env });
  await ctx.app.listen({ host: '127.0.0.1', port: 0 });
  return { ...ctx, port: ctx.app.server.address().port };
}

const ERROR_SHAPE = (/** @type {any} */ body, /** @type {string} */ code) => {
  assert.equal(typeof body.error.message, 'string');
  assert.equal(body.error.code, code);
  assert.deepEqual(Object.keys(body), ['error']);
};

test('431 (headers too large), 400 (malformed) and 404 (unknown method) answer in the error shape', async (t) => {
  const { app, port } = await listen();
  t.after(() => app.close());
  const big = await raw(port, `GET /status HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`);
  assert.equal(big.status, 431);
  ERROR_SHAPE(big.body, 'INVALID_REQUEST');
  assert.equal(big.body.error.field, 'headers');
  assert.match(big.headers, /cache-control: no-store/i);
  const bad = await raw(port, 'FOO /status HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(bad.status, 400);
  ERROR_SHAPE(bad.body, 'INVALID_REQUEST');
  for (const method of ['DELETE', 'PUT', 'PATCH', 'TRACE']) {
    const res = await raw(port, `${method} /messages HTTP/1.1\r\nHost: x\r\nAuthorization: ${AUTH.authorization}\r\nConnection: close\r\n\r\n`);
    assert.equal(res.status, 404, `${method}: a wrong method is 404, never 405`);
    ERROR_SHAPE(res.body, 'NOT_FOUND');
  }
});

test('408 for a request that is not received in time, in the error shape', async (t) => {
  const { app, port } = await listen({ WA_REQUEST_TIMEOUT_MS: '400', WA_HEADERS_TIMEOUT_MS: '300' });
  t.after(() => app.close());
  const slowHeaders = await raw(port, 'GET /status HTTP/1.1\r\nHost: x\r\n');
  assert.equal(slowHeaders.status, 408);
  ERROR_SHAPE(slowHeaders.body, 'INVALID_REQUEST');
  assert.ok(slowHeaders.closedAfterMs < 3000, `closed after ${slowHeaders.closedAfterMs} ms`);
  const slowBody = await raw(
    port,
    `POST /messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`,
  );
  assert.equal(slowBody.status, 408);
  ERROR_SHAPE(slowBody.body, 'INVALID_REQUEST');
});

test('after 401 or 413 the connection is closed, even while the client keeps sending', async (t) => {
  const { app, port } = await listen({ WA_BODY_LIMIT_BYTES: '1024' });
  t.after(() => app.close());
  const head = 'POST /messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n';
  const unauth = await raw(port, `${head}Content-Length: 1000000\r\n\r\n{"to":`, { keepOpenMs: 5000 });
  assert.equal(unauth.status, 401);
  ERROR_SHAPE(unauth.body, 'UNAUTHORIZED');
  assert.match(unauth.headers, /connection: close/i);
  assert.ok(unauth.closedAfterMs < 2500, `closed after ${unauth.closedAfterMs} ms`);
  const big = await raw(port, `${head}Authorization: Bearer ${TOKEN}\r\nContent-Length: 5000\r\n\r\n{`, { keepOpenMs: 5000 });
  assert.equal(big.status, 413);
  ERROR_SHAPE(big.body, 'INVALID_REQUEST');
  assert.ok(big.closedAfterMs < 2500, `closed after ${big.closedAfterMs} ms`);
});

test('1,000 unauthenticated slow bodies do not stop an authenticated /status from answering within 1 s', async (t) => {
  const limit = Number(/Max open files\s+(\d+)/.exec(fs.readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 1024);
  const count = 1000;
  assert.ok(limit >= count + 100, `the test needs ${count + 100} file descriptors, the limit is ${limit}`);
  // The service and the slow clients run as their own processes, each with
  // its own descriptor table; the service gets 1,024 descriptors, fewer than
  // the slow clients would need if it kept their connections.
  const prefix = fs.existsSync('/usr/bin/prlimit') ? ['/usr/bin/prlimit', '--nofile=1024:1024', '--'] : [];
  const run = runServer({ WA_DRIVER: 'fake', WA_TOKEN: TOKEN, WA_PORT: '0', WA_LOG_LEVEL: 'info' }, { prefix });
  const { port } = /** @type {any} */ (await run.line('listening'));
  const clients = spawn(process.execPath, [path.join(__dirname, '_slow-clients.js'), String(port), String(count)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let last = { opened: 0, answered401: 0, closed: 0 };
  clients.stdout.on('data', (d) => {
    const lines = d.toString().trim().split('\n');
    last = JSON.parse(lines[lines.length - 1]);
  });
  // Measure once every slow client is connected and trickling.
  for (let i = 0; i < 200 && last.opened < count; i += 1) await sleep(50);
  try {
    /** @type {number[]} */
    const timings = [];
    for (let i = 0; i < 5; i += 1) {
      const started = Date.now();
      const res = await fetch(`http://127.0.0.1:${port}/status`, { headers: AUTH, signal: AbortSignal.timeout(1000) });
      assert.equal(res.status, 200);
      timings.push(Date.now() - started);
      await sleep(200);
    }
    t.diagnostic(`/status answered in ${timings.join(', ')} ms; slow clients: ${JSON.stringify(last)}`);
    assert.ok(Math.max(...timings) < 1000, `status answered in ${timings.join(', ')} ms`);
    assert.ok(last.answered401 > 0, `the slow clients were answered 401: ${JSON.stringify(last)}`);
  } finally {
    clients.kill('SIGKILL');
    run.child.kill('SIGTERM');
    await run.exited;
  }
});
