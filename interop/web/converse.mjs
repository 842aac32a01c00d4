// Drives Converse.js in headless Chromium against parley, for
// interop/converse_test.go. Two browser profiles, alice's and bob's, each
// log in from their own page (the pages choose the transport): each sees
// the other in the roster, they chat both ways, both join a room and see
// each other's message there, alice uploads a file that bob's page shows,
// alice's tab is reloaded and shows the conversation again, and a fresh
// profile of alice's gets it from the archive. Each step is printed as a
// JSON line; screenshots are saved in the artifacts directory.
//
// node converse.mjs --alice-page URL --bob-page URL --alice JID --bob JID
//                   --room JID --file PNG --shots DIR [--chromium PATH] [--timeout MS]
import puppeteer from 'puppeteer-core';
import { parseArgs } from 'node:util';
import path from 'node:path';

const { values: args } = parseArgs({
  options: {
    'alice-page': { type: 'string' },
    'bob-page': { type: 'string' },
    alice: { type: 'string' },
    bob: { type: 'string' },
    room: { type: 'string' },
    file: { type: 'string' },
    shots: { type: 'string', default: '.' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    timeout: { type: 'string', default: '30000' },
  },
});
const timeout = Number(args.timeout);
const step = (name, detail = {}) => console.log(JSON.stringify({ step: name, ...detail }));
const token = Math.random().toString(36).slice(2, 8);

const browser = await puppeteer.launch({
  executablePath: args.chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const pages = {};

// open logs a user in from url in a profile of its own.
async function open(who, url) {
  const ctx = await browser.createBrowserContext();
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || process.env.CONVERSE_DEBUG) step('console', { who, text: m.type() + ': ' + m.text() }); });
  page.on('pageerror', (e) => step('page-error', { who, text: String(e) }));
  page.on('requestfailed', (r) => step('request-failed', { who, text: r.url() }));
  page.on('response', (r) => { if (r.status() >= 400) step('http-error', { who, text: r.status() + ' ' + r.url() }); });
  page.setDefaultTimeout(timeout);
  await page.goto(url);
  pages[who] = page;
  return page;
}

const contactOf = (jid) => `converse-roster-contact a[data-jid="${jid}"], converse-roster-contact [data-jid="${jid}"], .open-chat[data-jid="${jid}"]`;
const shows = (page, text) => page.waitForFunction((t) => document.body.innerText.includes(t), {}, text);
const shot = (page, name) => page.screenshot({ path: path.join(args.shots, name + '.png') });

async function openChat(page, jid) {
  await page.waitForSelector(contactOf(jid));
  await page.click(contactOf(jid));
  await page.waitForSelector(`converse-chat textarea`);
}

async function say(page, view, text) {
  const textarea = `${view} textarea`;
  await page.waitForSelector(textarea, { visible: true });
  await page.type(textarea, text);
  await page.keyboard.press('Enter');
}

async function openRoom(page, room) {
  const link = `converse-rooms-list a[data-room-jid="${room}"], a.open-room[data-room-jid="${room}"]`;
  await page.waitForSelector(link);
  await page.click(link);
  await page.waitForSelector('converse-muc textarea', { visible: true });
}

try {
  const alice = await open('alice', args['alice-page']);
  const bob = await open('bob', args['bob-page']);

  // Each sees the other in the roster.
  await alice.waitForSelector(contactOf(args.bob));
  await bob.waitForSelector(contactOf(args.alice));
  step('roster');
  await shot(alice, 'alice-roster');

  // A chat both ways.
  const hello = `Hello bob ${token}`;
  const reply = `Hello alice ${token}`;
  await openChat(alice, args.bob);
  await say(alice, 'converse-chat', hello);
  await openChat(bob, args.alice);
  await shows(bob, hello);
  step('chat');
  await say(bob, 'converse-chat', reply);
  await shows(alice, reply);
  step('reply');
  await shot(bob, 'bob-chat');

  // Both are in the room (joined at login); a message from alice is
  // seen by bob.
  const roomText = `In the room ${token}`;
  await openRoom(alice, args.room);
  await openRoom(bob, args.room);
  await say(alice, 'converse-muc', roomText);
  await shows(bob, roomText);
  step('room');
  await shot(bob, 'bob-room');

  // alice uploads a picture into the chat; bob's page shows it.
  await openChat(alice, args.bob);
  const input = await alice.waitForSelector('converse-chat input[type="file"]');
  await input.uploadFile(args.file);
  await openChat(bob, args.alice);
  const img = 'converse-chat img[src*="/upload/"]';
  await bob.waitForSelector(img);
  await bob.waitForFunction((sel) => { const i = document.querySelector(sel); return i && i.complete && i.naturalWidth > 0; }, {}, img);
  step('upload', { url: await bob.$eval(img, (i) => i.src) });
  await shot(bob, 'bob-upload');

  // A reloaded tab resumes and shows the conversation again.
  await alice.reload();
  await openChat(alice, args.bob);
  await shows(alice, reply);
  step('reloaded');
  await shot(alice, 'alice-reloaded');

  // A profile that never saw the conversation gets it from the archive.
  const fresh = await open('alice-fresh', args['alice-page']);
  await openChat(fresh, args.bob);
  await shows(fresh, reply);
  step('history');
  await shot(fresh, 'alice-archive');
  step('done');
} catch (e) {
  step('failed', { error: String(e) });
  for (const [who, page] of Object.entries(pages)) {
    await page.screenshot({ path: path.join(args.shots, `failure-${who}.png`) }).catch(() => {});
    step('page', { who, text: (await page.evaluate(() => document.body.innerText).catch(() => '')).slice(0, 2000) });
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
