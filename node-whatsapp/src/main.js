'use strict';

const { loadConfig, ConfigError } = require('./config');
const { createLogger, maskText } = require('./logger');
const { createApp } = require('./app');
const { systemClock } = require('./clock');
const { createFakeDriver } = require('./drivers/fake');
const { createWwebjsDriver } = require('./drivers/wwebjs');

/** Exit code for a configuration the service refuses to run with. */
const EXIT_CONFIG = 2;
/** Pending connections the kernel may queue before the service accepts them. */
const LISTEN_BACKLOG = 4096;
/** Extra time, past the grace period, before a stuck shutdown is forced. */
const FORCE_EXIT_MARGIN_MS = 15000;

/**
 * @param {import('./config').Config} config
 * @param {import('pino').Logger} logger
 * @param {import('./clock').Clock} clock
 */
function defaultDriverFactory(config, logger, clock) {
  if (config.driver === 'fake') {
    return createFakeDriver({ initialState: /** @type {any} */ (config.fakeState), clock });
  }
  return createWwebjsDriver({ config, logger, clock });
}

/**
 * Run the service: read the environment, build the driver and app, listen,
 * and stop cleanly on SIGTERM / SIGINT.
 *
 * @param {object} [options]
 * @param {Record<string, string|undefined>} [options.env]
 * @param {NodeJS.Process | import('node:events').EventEmitter & {exit: (code: number) => void, exitCode?: number}} [options.proc]
 * @param {import('pino').DestinationStream} [options.destination] log sink (stdout by default)
 * @param {typeof defaultDriverFactory} [options.createDriver]
 * @param {import('./clock').Clock} [options.clock]
 * @returns {Promise<{exitCode: number, app?: any, stopped?: Promise<number>}>}
 */
async function main(options = {}) {
  const env = options.env ?? process.env;
  const proc = /** @type {any} */ (options.proc ?? process);
  const clock = options.clock ?? systemClock;
  const createDriver = options.createDriver ?? defaultDriverFactory;

  let config;
  try {
    config = loadConfig(env);
  } catch (err) {
    const logger = createLogger({ destination: options.destination });
    if (err instanceof ConfigError) {
      logger.fatal({ exitCode: EXIT_CONFIG }, `refusing to start: ${err.message}`);
      proc.exitCode = EXIT_CONFIG;
      return { exitCode: EXIT_CONFIG };
    }
    throw err;
  }

  const logger = createLogger({ level: config.logLevel, destination: options.destination });
  if (config.token === null) {
    if (config.insecureNoAuth) {
      logger.warn('WA_TOKEN is not set and WA_INSECURE_NO_AUTH=1: every route is open to any local process');
    } else {
      logger.warn('WA_TOKEN is not set: every route except /health answers 401 until a token is configured');
    }
  }

  const onRejection = (/** @type {unknown} */ reason) => {
    logger.error({ err: maskText(/** @type {any} */ (reason)?.message ?? reason) }, 'unhandled promise rejection');
  };
  proc.on('unhandledRejection', onRejection);

  const driver = createDriver(config, logger, clock);
  const app = createApp({ driver, config, clock, logger });
  // A deep accept queue: a burst of connections (refused ones are closed at
  // once) must not make the kernel drop the SYN of a legitimate client.
  await app.listen({ host: config.host, port: config.port, backlog: LISTEN_BACKLOG });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ host: config.host, port, driver: config.driver }, 'listening');
  await driver.start();

  /** @type {(code: number) => void} */
  let finish = () => {};
  /** @type {Promise<number>} */
  const stopped = new Promise((resolve) => {
    finish = resolve;
  });
  let stopping = false;

  const onSignal = (/** @type {string} */ signal) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      proc.exit(1);
      return;
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = clock.setTimeout(() => {
      logger.error('shutdown took too long: exiting');
      proc.exit(1);
    }, config.shutdownGraceMs + FORCE_EXIT_MARGIN_MS);
    if (force && typeof force.unref === 'function') force.unref();
    app.shutdown().then(
      () => {
        clock.clearTimeout(force);
        logger.info('stopped');
        proc.removeListener('unhandledRejection', onRejection);
        proc.exitCode = 0;
        finish(0);
      },
      (/** @type {any} */ err) => {
        clock.clearTimeout(force);
        logger.error({ err: maskText(err?.message ?? err) }, 'shutdown failed');
        proc.exitCode = 1;
        finish(1);
      },
    );
  };
  proc.on('SIGTERM', () => onSignal('SIGTERM'));
  proc.on('SIGINT', () => onSignal('SIGINT'));

  return { exitCode: 0, app, stopped };
}

module.exports = { main, EXIT_CONFIG };
