// Logs in from the web client parley serves at /web/ (Converse.js), with
// its login form, in headless Chromium, and waits for a contact in the
// roster: for interop/converse_test.go. Steps are printed as JSON lines;
// a screenshot is saved in the artifacts directory.
//
// node login.mjs --page URL --jid JID --password PW --peer JID --shots DIR [--chromium PATH]
import puppeteer from 'puppeteer-core';
import { parseArgs } from 'node:util';
import path from 'node:path';

const { values: args } = parseArgs({
  options: {
    page: { type: 'string' },
    jid: { type: 'string' },
    password: { type: 'string' },
    peer: { type: 'string' },
    shots: { type: 'string', default: '.' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    timeout: { type: 'string', default: '30000' },
  },
});
const step = (name, detail = {}) => console.log(JSON.stringify({ step: name, ...detail }));
const browser = await puppeteer.launch({ executablePath: args.chromium, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
let page;
try {
  page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') step('console', { text: m.text() }); });
  page.on('pageerror', (e) => step('page-error', { text: String(e) }));
  page.setDefaultTimeout(Number(args.timeout));
  await page.goto(args.page);
  await page.waitForSelector('#converse-login-jid');
  await page.type('#converse-login-jid', args.jid);
  await page.type('converse-login-form input[name="password"], input[name="password"]', args.password);
  await page.keyboard.press('Enter');
  step('submitted');
  await page.waitForSelector(`converse-roster-contact [data-jid="${args.peer}"], .open-chat[data-jid="${args.peer}"]`);
  step('roster');
  await page.screenshot({ path: path.join(args.shots, 'web-client.png') });
  step('done');
} catch (e) {
  step('failed', { error: String(e) });
  if (page) await page.screenshot({ path: path.join(args.shots, 'web-client-failure.png') }).catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}
