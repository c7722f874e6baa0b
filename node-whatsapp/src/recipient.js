'use strict';

const { ApiError } = require('./errors');

/**
 * Turn the "to" field into a WhatsApp chat id.
 *
 * Accepted forms:
 * - "+<8-15 digits>" (international phone number) -> "<digits>@c.us"
 * - "<8-15 digits>@c.us" (user chat id)
 * - "<digits>[-<digits>]@g.us" (group chat id)
 *
 * @param {string} to
 * @returns {{chatId: string, isGroup: boolean}}
 * @throws {ApiError} INVALID_RECIPIENT
 */
function normaliseRecipient(to) {
  const phone = /^\+(\d{8,15})$/.exec(to);
  if (phone) return { chatId: `${phone[1]}@c.us`, isGroup: false };
  if (/^\d{8,15}@c\.us$/.test(to)) return { chatId: to, isGroup: false };
  if (/^\d{5,25}(-\d{5,25})?@g\.us$/.test(to)) return { chatId: to, isGroup: true };
  throw new ApiError(
    'INVALID_RECIPIENT',
    'to must be "+" and 8-15 digits, "<digits>@c.us" or "<digits>@g.us"',
  );
}

module.exports = { normaliseRecipient };
