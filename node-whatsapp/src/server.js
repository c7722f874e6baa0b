#!/usr/bin/env node
'use strict';

// Entry point: `npm start` / `node src/server.js`. Configuration is read from
// WA_* environment variables (see README.md).
const { main } = require('./main');

main().catch((err) => {
  // Startup failed (for example the port is taken): say so on stdout as JSON
  // like every other log line, and exit non-zero.
  process.stdout.write(
    `${JSON.stringify({ level: 'fatal', time: new Date().toISOString(), service: 'node-whatsapp', msg: `startup failed: ${err && err.message}` })}\n`,
  );
  process.exit(1);
});
