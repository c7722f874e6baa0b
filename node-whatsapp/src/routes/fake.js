'use strict';

const { fakeStateSchema, fakeScriptSchema, fakeAckSchema, parseOrThrow } = require('../schemas');
const { ApiError } = require('../errors');

/**
 * Control routes of the fake driver, mounted only when WA_DRIVER=fake.
 * They need the bearer token like every other route.
 * @param {import('fastify').FastifyInstance} app
 * @param {{driver: ReturnType<typeof import('../drivers/fake').createFakeDriver>}} deps
 */
function registerFakeRoutes(app, { driver }) {
  app.post('/_fake/state', async (request) => {
    const body = parseOrThrow(fakeStateSchema, request.body);
    driver.setState(/** @type {any} */ (body.state), body.reason ?? null);
    return { state: driver.status().state };
  });

  app.post('/_fake/script', async (request) => {
    const body = parseOrThrow(fakeScriptSchema, request.body);
    driver.setScript(/** @type {any} */ (body.outcomes));
    return { queued: driver.pendingScript() };
  });

  app.get('/_fake/sent', async () => ({ messages: driver.sent() }));

  app.post('/_fake/ack', async (request) => {
    const body = parseOrThrow(fakeAckSchema, request.body);
    if (!driver.ack(body.id, body.ack)) throw new ApiError('NOT_FOUND', 'the fake driver did not send a message with this id');
    return { id: body.id, ack: body.ack };
  });

  app.post('/_fake/reset', async () => {
    driver.reset();
    return { state: driver.status().state };
  });
}

module.exports = { registerFakeRoutes };
