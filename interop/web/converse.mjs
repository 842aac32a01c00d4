// Drives Converse.js in headless Chromium against parley, for
// interop/converse_test.go. One page logs in over the endpoint given,
// opens a chat with a contact, sends a message, and waits for the
// contact's answer, then reloads and opens a fresh profile to see the
// conversation again; each step is printed as a JSON line, and screenshots
// are saved in the artifacts directory.
//
// node converse.mjs --page URL --peer JID --send TEXT --expect TEXT --shots DIR [--reload-expect TEXT]
import puppeteer from 'puppeteer-core';
import { parseArgs } from 'node:util';
import path from 'node:path';

const { values: args } = parseArgs({
  options: {
    page: { type: 'string' },
    peer: { type: 'string' },
    send: { type: 'string' },
    expect: { type: 'string' },
    'reload-expect': { type: 'string' },
    shots: { type: 'string', default: '.' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    timeout: { type: 'string', default: '30000' },
  },
});
const timeout = Number(args.timeout);
const step = (name, detail = {}) => console.log(JSON.stringify({ step: name, ...detail }));

const browser = await puppeteer.launch({
  executablePath: args.chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
let page;
try {
  page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || process.env.CONVERSE_DEBUG) step('console', { text: m.type() + ': ' + m.text() }); });
  page.on('pageerror', (e) => step('page-error', { text: String(e) }));
  page.on('requestfailed', (r) => step('request-failed', { text: r.url() }));
  page.on('response', (r) => { if (r.status() >= 400) step('http-error', { text: r.status() + ' ' + r.url() }); });
  page.setDefaultTimeout(timeout);
  await page.goto(args.page);

  // Logged in once the roster shows the contact.
  const contact = `converse-roster-contact a[data-jid="${args.peer}"], converse-roster-contact [data-jid="${args.peer}"], .open-chat[data-jid="${args.peer}"]`;
  await page.waitForSelector(contact);
  step('roster', { peer: args.peer });
  await page.screenshot({ path: path.join(args.shots, 'roster.png') });

  await page.click(contact);
  const textarea = 'converse-chat textarea, .chat-textarea';
  await page.waitForSelector(textarea);
  await page.type(textarea, args.send);
  await page.keyboard.press('Enter');
  step('sent', { text: args.send });

  await page.waitForFunction((t) => document.body.innerText.includes(t), {}, args.expect);
  step('received', { text: args.expect });
  await page.screenshot({ path: path.join(args.shots, 'chat.png') });

  if (args['reload-expect']) {
    // A reloaded tab resumes its session (stream management) and shows
    // the conversation again.
    await page.reload();
    await page.waitForSelector(contact);
    await page.click(contact);
    await page.waitForFunction((t) => document.body.innerText.includes(t), {}, args['reload-expect']);
    step('reloaded', { text: args['reload-expect'] });
    await page.screenshot({ path: path.join(args.shots, 'after-reload.png') });

    // A browser profile that never saw the conversation gets it from
    // the server's message archive (MAM).
    const fresh = await browser.createBrowserContext();
    const other = await fresh.newPage();
    other.setDefaultTimeout(timeout);
    await other.goto(args.page);
    await other.waitForSelector(contact);
    await other.click(contact);
    await other.waitForFunction((t) => document.body.innerText.includes(t), {}, args['reload-expect']);
    step('history', { text: args['reload-expect'] });
    await other.screenshot({ path: path.join(args.shots, 'archive.png') });
  }
  step('done');
} catch (e) {
  step('failed', { error: String(e) });
  if (page) step('page', { text: (await page.content().catch(() => '')).slice(0, 3000) });
  if (page) await page.screenshot({ path: path.join(args.shots, 'failure.png') }).catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}
