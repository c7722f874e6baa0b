'use strict';

// Loopback TLS server for the STAND-IN of WhatsApp Web (see whatsapp-web.html).
// Chromium reaches it through --host-resolver-rules (web.whatsapp.com ->
// 127.0.0.1:<port>) and --ignore-certificate-errors (a throw-away self-signed
// certificate made with openssl). Test launch flags only; never in the service.
// (Not a test file: node --test does not pick up files in this folder.)

const https = require('node:https');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const PAGE = fs.readFileSync(path.join(__dirname, 'whatsapp-web.html'), 'utf8');

function selfSignedCert() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'standin-tls-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=web.whatsapp.com',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  const pair = { key: fs.readFileSync(path.join(dir, 'key.pem')), cert: fs.readFileSync(path.join(dir, 'cert.pem')) };
  fs.rmSync(dir, { recursive: true, force: true });
  return pair;
}

/**
 * Start the stand-in on 127.0.0.1 and a free port.
 * @returns {Promise<{port: number, chromiumArgs: string[], command: (c: object) => void,
 *   events: any[], waitFor: (pred: (e: any) => boolean, ms?: number) => Promise<any>, close: () => Promise<void>}>}
 */
async function startStandIn() {
  /** @type {object[]} */
  const queue = [];
  /** @type {Array<{page: number, send: (c: object) => void}>} long polls waiting for a command */
  let waiting = [];
  /** @type {any[]} */
  const events = [];
  /** @type {Array<() => void>} */
  const watchers = [];
  let paired = false;
  let pages = 0;

  const server = https.createServer(selfSignedCert(), (req, res) => {
    const url = new URL(req.url ?? '/', 'https://web.whatsapp.com');
    if (req.method === 'GET' && url.pathname === '/') {
      pages += 1;
      const config = JSON.stringify({ paired, page: pages }).replace(/'/g, "\\'");
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE.replace('__STANDIN_CONFIG__', config));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/__standin/next') {
      const page = Number(url.searchParams.get('page'));
      const send = (/** @type {object} */ command) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(command));
      };
      if (page !== pages) {
        res.writeHead(204).end(); // an older page: it gets no commands
        return;
      }
      const next = queue.shift();
      if (next) return send(next);
      const waiter = {
        page,
        send: (/** @type {object} */ command) => {
          clearTimeout(timer);
          send(command);
        },
      };
      const drop = () => {
        waiting = waiting.filter((w) => w !== waiter);
      };
      const timer = setTimeout(() => {
        drop();
        res.writeHead(204).end();
      }, 5000);
      res.on('close', () => {
        clearTimeout(timer);
        drop();
      });
      waiting.push(waiter);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/__standin/event') {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        const event = JSON.parse(body);
        if (event.type === 'paired') paired = true;
        events.push(event);
        for (const w of watchers.slice()) w();
        res.writeHead(204).end();
      });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {any} */ (server.address());

  return {
    port,
    chromiumArgs: [`--host-resolver-rules=MAP web.whatsapp.com 127.0.0.1:${port}`, '--ignore-certificate-errors'],
    events,
    command(command) {
      // A scan links the account: pages loaded from now on start linked (as
      // WhatsApp Web does after a restart), even if this page is replaced first.
      if (/** @type {any} */ (command).type === 'scan') paired = true;
      // Only the newest page takes commands; polls of a page that died are dropped.
      waiting = waiting.filter((w) => w.page === pages);
      const w = waiting.shift();
      if (w) w.send(command);
      else queue.push(command);
    },
    waitFor(pred, ms = 30000) {
      return new Promise((resolve, reject) => {
        const from = 0;
        const check = () => {
          const found = events.slice(from).find(pred);
          if (found) {
            clearTimeout(timer);
            watchers.splice(watchers.indexOf(check), 1);
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          watchers.splice(watchers.indexOf(check), 1);
          reject(new Error(`stand-in: no matching event in ${ms} ms; events: ${JSON.stringify(events)}`));
        }, ms);
        watchers.push(check);
        check();
      });
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

module.exports = { startStandIn };
