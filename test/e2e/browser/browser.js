'use strict';
/*
 * browser.js: a person in front of the demo web service, played by Debian's
 * headless Chromium through puppeteer-core (the system browser: nothing is
 * downloaded). Used by test/e2e/75_web_browser.sh.
 *
 *   node browser.js --url http://127.0.0.1:PORT --shots DIR --results FILE
 *                   --pin PIN --user USER --timeout SECONDS [--chromium PATH] SCENARIO...
 *
 * Two tabs: the webshop (/) and the phone (/phone). Scenarios, in this order
 * (signature, decline and timeout need login first: it runs when any of them
 * is asked for):
 *   login      an unknown user is refused with the API's message; the user id
 *              is typed, the code shown, the phone shows the same code, the
 *              PIN is entered on the phone, the page says "Welcome, USER";
 *              while it waited the page made no request but its event stream
 *   signature  a payment text with markup is signed: the phone shows it as
 *              text (no element made from it), the page shows signer,
 *              VALID_SIGNATURE (502) and the time; verified again
 *              (mobisign_verify) it is still valid
 *   decline    a wrong PIN first (the phone says so), then decline: the page
 *              shows USER_CANCEL (401)
 *   timeout    nobody answers: the page shows EXPIRED_TRANSACTION (208), the
 *              phone shows that it timed out
 * Every check is one line of FILE: SCENARIO<TAB>ok|fail<TAB>what (detail);
 * screenshots NN-name.png go to DIR. Exit 0 when the browser ran (the checks
 * tell the rest), 1 when it could not.
 */
const fs = require('fs');
const path = require('path');
const puppeteer = require('puppeteer-core');

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
const url = arg('--url');
const shots = arg('--shots');
const results = arg('--results');
const pin = arg('--pin');
const user = arg('--user', 'user0001');
const txTimeout = Number(arg('--timeout', '5'));
const chromium = arg('--chromium', '/usr/bin/chromium');
const wanted = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(all[i - 1] || '').startsWith('--'));

let scenario = '';
let shotNo = 0;
function record(ok, what, detail) {
  fs.appendFileSync(results, `${scenario}\t${ok ? 'ok' : 'fail'}\t${what}${ok || !detail ? '' : ` (${detail})`}\n`);
}
function check(what, expected, got) {
  record(expected === got, what, `expected '${expected}', got '${got}'`);
}
function checkMatch(what, re, got) {
  record(re.test(got), what, `expected /${re.source}/, got '${got}'`);
}
async function shot(page, name) {
  shotNo++;
  const f = path.join(shots, `${String(shotNo).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: f, fullPage: true });
  process.stdout.write(`# screenshot ${f}\n`);
}
async function textOf(page, sel) {
  return page.$eval(sel, (e) => e.textContent.trim()).catch(() => '');
}
async function visible(page, sel, ms) {
  try {
    await page.waitForSelector(sel, { visible: true, timeout: ms });
    return true;
  } catch (e) {
    return false;
  }
}
// the phone's box for a user, in the given state
function phoneSel(state) {
  return `.phone[data-state="${state}"]`;
}

async function login(shop, phone) {
  // a user the register does not know: the API's refusal, shown as text
  await shop.type('#user', 'nobody<img src=x>');
  await shop.click('#login');
  await shop.waitForFunction(() => document.querySelector('#login-status').textContent.length > 0 &&
    !/Sending/.test(document.querySelector('#login-status').textContent), { timeout: 10000, polling: 100 }).catch(() => {});
  checkMatch('an unknown user is refused with the API\'s message', /unknown|not found|does not exist/i,
    await textOf(shop, '#login-status'));
  check('the refused user id made no element', 0, await shop.$$eval('#login-box img', (l) => l.length));
  await shop.$eval('#user', (e) => { e.value = ''; });

  const requests = [];
  const onRequest = (r) => requests.push(`${r.method()} ${new URL(r.url()).pathname}`);
  await shop.type('#user', user);
  shop.on('request', onRequest);
  await shop.click('#login');
  const shown = await visible(shop, '#login-wait', 10000);
  record(shown, 'the page shows a verification code');
  const code = await textOf(shop, '#login-code');
  checkMatch('the code is 4 digits', /^[0-9]{4}$/, code);
  const onPhone = await visible(phone, phoneSel('pending'), 15000);
  record(onPhone, 'the phone shows the request');
  check('the phone shows the same code', `Code ${code}`, await textOf(phone, `${phoneSel('pending')} .vcode`));
  check('the phone asks to log in', 'Log in?', await textOf(phone, `${phoneSel('pending')} .op`));
  await shot(shop, 'login-code');
  await shot(phone, 'phone-login-prompt');
  await new Promise((r) => setTimeout(r, 1500));  // the page waits: any polling would show now
  check('while it waited the page made only its login and its event stream requests',
    'POST /api/login,GET /api/transactions/*/events',
    requests.map((r) => r.replace(/[0-9a-f-]{36}/, '*')).join(','));
  await phone.type(`${phoneSel('pending')} .pin`, pin);
  const t0 = Date.now();
  await phone.click(`${phoneSel('pending')} .sign`);
  const in_ = await visible(shop, '#account', 15000);
  shop.off('request', onRequest);
  record(in_, 'the page updates itself once the phone signed', `after ${Date.now() - t0} ms`);
  process.stdout.write(`# login: the page showed the account ${Date.now() - t0} ms after the PIN was sent\n`);
  check('the page greets the user', user, await textOf(shop, '#whoami'));
  checkMatch('the page shows the certificate subject', new RegExp(`CN ?= ?${user}`), await textOf(shop, '#auth-signer'));
  check('the phone shows the outcome', 'PIN accepted: signed.', await textOf(phone, `.phone .outcome`));
  await shot(shop, 'logged-in');
}

async function askSign(shop, phone, text) {
  await shop.$eval('#text', (e, t) => { e.value = t; }, text);
  await shop.click('#sign');
  await visible(shop, '#sign-wait', 10000);
  const code = await textOf(shop, '#sign-code');
  const onPhone = await visible(phone, phoneSel('pending'), 15000);
  record(onPhone, 'the phone shows the text to sign');
  check('the phone shows the same code', `Code ${code}`, await textOf(phone, `${phoneSel('pending')} .vcode`));
  return code;
}
async function outcome(shop, ms) {
  await shop.waitForSelector('#result', { visible: true, timeout: ms }).catch(() => {});
  return {
    status: await textOf(shop, '#result-status'),
    signer: await textOf(shop, '#result-signer'),
    time: await textOf(shop, '#result-time'),
    line: await textOf(shop, '#sign-status'),
  };
}

async function signature(shop, phone) {
  const text = 'Pay 42.50 EUR to ACME Oy <b>now</b> & "thanks"';
  await askSign(shop, phone, text);
  check('the phone shows exactly the text (as text)', text, await textOf(phone, `${phoneSel('pending')} .text`));
  check('the markup in the text made no element', 0, await phone.$$eval('.phone .text b', (l) => l.length));
  check('the phone asks to sign', 'Sign?', await textOf(phone, `${phoneSel('pending')} .op`));
  await shot(phone, 'phone-sign-prompt');
  await phone.type(`${phoneSel('pending')} .pin`, pin);
  await phone.click(`${phoneSel('pending')} .sign`);
  const o = await outcome(shop, 15000);
  checkMatch('the page shows the status', /^VALID_SIGNATURE \(502\)/, o.status);
  checkMatch('the page shows the signer', new RegExp(`CN ?= ?${user}`), o.signer);
  checkMatch('the page shows the time', /[0-9]{1,2}:[0-9]{2}/, o.time);
  check('the page says it is signed', 'Signed.', o.line);
  await shop.click('#verify');
  await shop.waitForFunction(() => /valid|error/i.test(document.querySelector('#result-verified').textContent),
    { timeout: 10000, polling: 100 }).catch(() => {});
  checkMatch('verified again (mobisign_verify): valid', /^valid: VALID_SIGNATURE \(502\) at /,
    await textOf(shop, '#result-verified'));
  await shot(shop, 'signed');
}

async function decline(shop, phone) {
  await askSign(shop, phone, 'Pay 9999.00 EUR to Mallory');
  const wrong = pin === '0000' ? '1111' : '0000';
  await phone.type(`${phoneSel('pending')} .pin`, wrong);
  await phone.click(`${phoneSel('pending')} .sign`);
  await phone.waitForFunction(() => /Wrong PIN/.test((document.querySelector('.phone .message') || {}).textContent || ''),
    { timeout: 5000, polling: 100 }).catch(() => {});
  check('a wrong PIN: the phone says so', 'Wrong PIN. Try again.', await textOf(phone, `${phoneSel('pending')} .message`));
  checkMatch('a wrong PIN: two tries left', /tries left: 2/, await textOf(phone, `${phoneSel('pending')} .small`));
  await shot(phone, 'phone-wrong-pin');
  await phone.click(`${phoneSel('pending')} .decline`);
  const o = await outcome(shop, 15000);
  checkMatch('the page shows the user declined', /^USER_CANCEL \(401\)/, o.status);
  check('nobody signed', '-', o.signer);
  check('the phone shows the outcome', 'Declined.', await textOf(phone, '.phone .outcome'));
  await shot(shop, 'declined');
}

async function timeout(shop, phone) {
  await askSign(shop, phone, 'Pay 1.00 EUR to ACME Oy');
  const o = await outcome(shop, (txTimeout + 20) * 1000);
  checkMatch('the page shows the transaction expired', /^EXPIRED_TRANSACTION \(208\)/, o.status);
  await phone.waitForSelector(phoneSel('done'), { timeout: 5000 }).catch(() => {});
  check('the phone shows it timed out', 'Timed out: nobody answered.', await textOf(phone, '.phone .outcome'));
  await shot(shop, 'expired');
  await shot(phone, 'phone-expired');
}

async function main() {
  const all = { login, signature, decline, timeout };
  const run = ['login', 'signature', 'decline', 'timeout'].filter((s) =>
    wanted.includes(s) || (s === 'login' && wanted.length > 0));
  // two browsers, as a person has two devices: the computer with the
  // webshop and the phone (one page each, always in front: a background tab
  // is not painted and puppeteer's clicks on it wait for a frame forever)
  const launch = () => puppeteer.launch({
    executablePath: chromium,
    headless: true,
    // root (CI) needs --no-sandbox; no GPU, no /dev/shm limits in containers
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
    protocolTimeout: 60000,
  });
  let browser, phoneBrowser;
  try {
    browser = await launch();
    phoneBrowser = await launch();
  } catch (e) {
    process.stderr.write(`browser.js: cannot start ${chromium}: ${e.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`# ${await browser.version()} (${chromium})\n`);
  const shop = (await browser.pages())[0] || await browser.newPage();
  const phone = (await phoneBrowser.pages())[0] || await phoneBrowser.newPage();
  const errors = [];
  for (const p of [shop, phone]) {
    p.on('pageerror', (e) => errors.push(e.message));
    // a 400 is the API refusing input, which the page shows; any other error counts
    p.on('console', (m) => {
      if (m.type() === 'error' && !/status of 400 \(Bad Request\)/.test(m.text())) errors.push(m.text());
    });
    p.setDefaultTimeout(20000);
  }
  await shop.setViewport({ width: 900, height: 700 });
  await phone.setViewport({ width: 420, height: 560 });
  await phone.goto(`${url}/phone`, { waitUntil: 'domcontentloaded' });
  await shop.goto(`${url}/`, { waitUntil: 'domcontentloaded' });
  for (const s of run) {
    scenario = s;
    try {
      await all[s](shop, phone);
    } catch (e) {
      record(false, 'the scenario ran to its end', e.message.split('\n')[0]);
      await shot(shop, `${s}-failed`).catch(() => {});
    }
    check('no script error on either page', '', errors.splice(0).join(' | '));
  }
  await browser.close();
  await phoneBrowser.close();
}
main();
