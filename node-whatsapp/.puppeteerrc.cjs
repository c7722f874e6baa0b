/**
 * Puppeteer configuration for this package.
 *
 * whatsapp-web.js depends on puppeteer, whose install script would download a
 * Chrome build. This service never uses a downloaded browser: a real run
 * points WA_CHROMIUM_PATH (or PUPPETEER_EXECUTABLE_PATH) at a system Chromium,
 * and the tests use a stubbed client. So the download is always skipped.
 * @type {import('puppeteer').Configuration}
 */
module.exports = {
  skipDownload: true,
  chrome: { skipDownload: true },
  'chrome-headless-shell': { skipDownload: true },
  firefox: { skipDownload: true },
};
