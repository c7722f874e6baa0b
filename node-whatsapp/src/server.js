#!/usr/bin/env node
'use strict';

// Entry point: `npm start` / `node src/server.js`. Configuration is read from
// WA_* environment variables (see README.md).
const { main } = require('./main');

// Everything the service and its Chromium create (session folders, cookies,
// the idempotency store) is readable by the owner only: folders 0700, files 0600.
process.umask(0o077);

main().catch((err) => {
  // Startup failed (for example the port is taken): say so on stdout as JSON
  // like every other log line, and exit non-zero.
  process.stdout.write(
    `${JSON.stringify({ level: 'fatal', time: new Date().toISOString(), service: 'node-whatsapp', msg: `startup failed: ${err && err.message}` })}\n`,
  );
  process.exit(1);
});
