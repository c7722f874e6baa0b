'use strict';

const fs = require('node:fs/promises');
const path = require('node:path');
const { invalidRequest } = require('./errors');

/**
 * @typedef {object} ResolvedMedia
 * @property {string} data base64, canonical
 * @property {string} filename
 * @property {string} mimeType
 * @property {string|null} caption
 * @property {number} bytes decoded length
 */

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Strictly decode base64 (standard alphabet, padded); anything else is an
 * INVALID_REQUEST on media.data.
 * @param {string} data
 * @returns {Buffer}
 */
function decodeBase64(data) {
  const compact = data.replace(/\r?\n/g, '');
  if (compact.length === 0 || compact.length % 4 !== 0 || !BASE64.test(compact)) {
    throw invalidRequest('media.data', 'media.data: must be non-empty standard base64 (A-Z, a-z, 0-9, +, /, = padding)');
  }
  const buffer = Buffer.from(compact, 'base64');
  if (buffer.length === 0) throw invalidRequest('media.data', 'media.data: decodes to no bytes');
  return buffer;
}

/**
 * Read a file named relative to mediaDir, refusing anything that resolves
 * outside it (".." segments, absolute paths, symlinks pointing out).
 * @param {string} mediaDir absolute folder
 * @param {string} relPath as given by the client
 * @param {number} maxBytes
 * @returns {Promise<Buffer>}
 */
async function readConfinedFile(mediaDir, relPath, maxBytes) {
  const bad = (/** @type {string} */ why) => invalidRequest('media.path', `media.path: ${why}`);
  if (relPath.includes('\0') || path.isAbsolute(relPath) || /^[A-Za-z]:/.test(relPath)) {
    throw bad('must be a relative path inside WA_MEDIA_DIR');
  }
  if (relPath.split(/[\\/]+/).includes('..')) throw bad('must not contain ".." segments');
  let root;
  let real;
  try {
    root = await fs.realpath(mediaDir);
    real = await fs.realpath(path.join(root, relPath));
  } catch {
    throw bad('file not found');
  }
  if (!real.startsWith(root + path.sep)) throw bad('resolves outside WA_MEDIA_DIR');
  const stat = await fs.stat(real);
  if (!stat.isFile()) throw bad('is not a regular file');
  if (stat.size === 0) throw bad('file is empty');
  if (stat.size > maxBytes) throw bad(`file is larger than ${maxBytes} bytes`);
  return fs.readFile(real);
}

/**
 * Validate and load the media part of a send request.
 * @param {{data?: string, path?: string, filename?: string, mimeType: string, caption?: string|null}} media
 * @param {{mediaDir: string|null, maxBytes: number}} options
 * @returns {Promise<ResolvedMedia>}
 */
async function resolveMedia(media, { mediaDir, maxBytes }) {
  let buffer;
  let filename = media.filename;
  if (media.path !== undefined) {
    if (mediaDir === null) {
      throw invalidRequest('media.path', 'media.path: media by path is disabled (WA_MEDIA_DIR is not set)');
    }
    buffer = await readConfinedFile(mediaDir, media.path, maxBytes);
    filename = filename ?? path.basename(media.path);
  } else {
    buffer = decodeBase64(/** @type {string} */ (media.data));
  }
  return {
    data: buffer.toString('base64'),
    filename: /** @type {string} */ (filename),
    mimeType: media.mimeType,
    caption: media.caption ?? null,
    bytes: buffer.length,
  };
}

module.exports = { resolveMedia, decodeBase64, readConfinedFile };
