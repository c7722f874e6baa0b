'use strict';

const QRCode = require('qrcode');
const { ApiError } = require('../errors');

/**
 * /health, /status, /qr and /messages.
 * @param {import('fastify').FastifyInstance} app
 * @param {{driver: import('../drivers/state').Driver, messages: ReturnType<typeof import('../messages').createMessageService>}} deps
 */
function registerCoreRoutes(app, { driver, messages }) {
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

  app.post('/messages', async (request) => messages.send(request.body, request.headers['idempotency-key']));
}

module.exports = { registerCoreRoutes };
