'use strict';

const { z } = require('zod');
const { STATES } = require('./config');
const { DRIVER_FAILURE_CODES, invalidRequest } = require('./errors');

/** Longest text or caption accepted (WhatsApp's own limit is about 65k). */
const MAX_TEXT = 65536;

/** A display file name: no path separators, no control characters. */
const filename = z
  .string()
  .min(1)
  .max(255)
  .refine((v) => !/[/\\\u0000-\u001f\u007f]/.test(v) && v !== '.' && v !== '..', {
    message: 'must be a plain file name without path separators or control characters',
  });

const mediaSchema = z
  .object({
    data: z.string().optional(),
    path: z.string().min(1).max(1024).optional(),
    filename: filename.optional(),
    mimeType: z
      .string()
      .max(255)
      .regex(/^[A-Za-z0-9][\w.+-]*\/[A-Za-z0-9][\w.+-]*$/, 'must be a MIME type such as image/png'),
    caption: z.string().max(MAX_TEXT).nullish(),
  })
  .superRefine((media, ctx) => {
    const hasData = media.data !== undefined;
    const hasPath = media.path !== undefined;
    if (hasData === hasPath) {
      ctx.addIssue({ code: 'custom', path: ['data'], message: 'exactly one of media.data or media.path is required' });
    }
    if (hasData && media.filename === undefined) {
      ctx.addIssue({ code: 'custom', path: ['filename'], message: 'is required' });
    }
  });

const messageSchema = z
  .object({
    to: z.string().max(128),
    text: z.string().max(MAX_TEXT).optional(),
    media: mediaSchema.nullish(),
  })
  .superRefine((msg, ctx) => {
    if (!msg.media && (msg.text === undefined || msg.text === '')) {
      ctx.addIssue({ code: 'custom', path: ['text'], message: 'must be a non-empty string when no media is sent' });
    }
  });

const fakeStateSchema = z.object({
  state: z.enum(/** @type {[string, ...string[]]} */ ([...STATES])),
  reason: z.string().max(1000).nullish(),
});

const outcomeSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('accept') }),
  z.object({
    type: z.literal('fail'),
    code: z.enum(/** @type {[string, ...string[]]} */ ([...DRIVER_FAILURE_CODES])),
    message: z.string().max(1000).optional(),
    retryAfterSec: z.number().int().min(0).max(3600).optional(),
  }),
  z.object({ type: z.literal('hang') }),
  z.object({ type: z.literal('delay'), ms: z.number().int().min(0).max(600000) }),
]);

const fakeAckSchema = z.object({
  id: z.string().min(1).max(256),
  ack: z.enum(['error', 'pending', 'server', 'device', 'read']),
});

const fakeScriptSchema = z.object({
  outcomes: z.array(outcomeSchema).max(10000),
});

/**
 * Validate a value, or throw INVALID_REQUEST naming the first wrong field.
 * @template T
 * @param {z.ZodType<T>} schema
 * @param {unknown} value
 * @returns {T}
 */
function parseOrThrow(schema, value) {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue.path.length ? issue.path.map(String).join('.') : 'body';
  const message = /received undefined$/.test(issue.message) ? 'is required' : issue.message;
  throw invalidRequest(field, `${field}: ${message}`);
}

module.exports = { messageSchema, fakeStateSchema, fakeScriptSchema, fakeAckSchema, parseOrThrow, MAX_TEXT };
