'use strict';

const QRCode = require('qrcode');
const { ApiError } = require('../errors');

/** A WhatsApp message id as this service returns it (e.g. true_15551234567@c.us_3EB0...). */
const MESSAGE_ID = /^[\x21-\x7e]{1,256}$/;

/**
 * /health, /status, /qr and /messages.
 * @param {import('fastify').FastifyInstance} app
 * @param {{driver: import('../drivers/state').Driver, messages: ReturnType<typeof import('../messages').createMessageService>,
 *   acks: import('../acks').AckStore}} deps
 */
function registerCoreRoutes(app, { driver, messages, acks }) {
  app.get('/health', { config: { public: true } }, async () => ({ status: 'ok' }));

  app.get('/status', async () => driver.status());

  app.get('/qr', async (request, reply) => {
    const { format } = /** @type {{format?: unknown}} */ (request.query ?? {});
    if (format !== undefined && format !== 'text' && format !== 'png') {
      throw new ApiError('INVALID_REQUEST', 'format must be "png" or "text"', { field: 'format' });
    }
    const qr = driver.qr();
    if (!qr) throw new ApiError('NOT_FOUND', 'no QR code is pending');
    if (format === 'text') {
      return reply.type('text/plain; charset=utf-8').send(qr);
    }
    const png = await QRCode.toBuffer(qr, { type: 'png', errorCorrectionLevel: 'M', margin: 2, scale: 6 });
    return reply.type('image/png').send(png);
  });

  app.post('/messages', async (request) => {
    const result = await messages.send(request.body, request.headers['idempotency-key']);
    // Known from now on; WhatsApp's own acks move it forward.
    if (!result.replayed && !acks.get(result.id)) acks.record(result.id, 'pending');
    return result;
  });

  app.get('/messages/:id', async (request) => {
    const { id } = /** @type {{id: string}} */ (request.params);
    if (!MESSAGE_ID.test(id)) throw new ApiError('INVALID_REQUEST', 'id must be 1-256 visible ASCII characters', { field: 'id' });
    const entry = acks.get(id);
    if (!entry) throw new ApiError('NOT_FOUND', 'no delivery status is known for this message id');
    return entry;
  });
}

module.exports = { registerCoreRoutes };
