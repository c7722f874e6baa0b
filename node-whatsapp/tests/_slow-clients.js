'use strict';

// A child process for connections.test.js: opens COUNT connections to PORT
// that send a POST /messages without a token and then trickle its body one
// byte every 100 ms, until killed. It prints its counts as one JSON line once
// every connection is open, and every second.
// (Not a test file: the name matches none of node --test's patterns.)
const net = require('node:net');

const port = Number(process.argv[2]);
const count = Number(process.argv[3]);
const head = 'POST /messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"to":"';
const stats = { opened: 0, answered401: 0, closed: 0 };
/** @type {net.Socket[]} */
const sockets = [];
for (let i = 0; i < count; i += 1) {
  const socket = net.connect(port, '127.0.0.1');
  socket.write(head); // queued until connected, so it goes out first
  socket.on('connect', () => {
    stats.opened += 1;
    if (stats.opened === count) report();
  });
  socket.on('data', (d) => {
    if (/^HTTP\/1\.1 401/.test(d.toString())) stats.answered401 += 1;
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    stats.closed += 1;
  });
  sockets.push(socket);
}
function report() {
  process.stdout.write(`${JSON.stringify(stats)}\n`);
}
setInterval(() => {
  for (const s of sockets) if (!s.pending && !s.destroyed && s.writable) s.write('1');
}, 100);
setInterval(report, 1000);
