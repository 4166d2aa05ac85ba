'use strict';
/*
 * server.js
 *   mobisign's demo web service: the web-user scenario, live (make demo-web).
 *
 *   node server.js --listen 127.0.0.1:PORT --phone-dir DIR [--timeout SECONDS]
 *                  [--host NAME:PORT]   (another name the browser uses: a tunnel)
 *   (the database from the usual libpq variables: PGHOST, PGPORT, PGUSER,
 *   PGDATABASE; the role must be an application role granted mobisign_app)
 *
 * A person enters a user id and sees the verification code; the page learns
 * the outcome the moment the transaction ends (server-sent events fed by one
 * LISTEN mobisign connection: no polling); once authenticated, the person
 * signs a payment text and sees signer, status and time. /phone is the phone
 * of the simulator (mobisign-sim, behaviour ask): it shows what the SIM
 * displays and passes the person's decision to the simulator through
 * DIR/phone (docs/simulator.md, "The interactive phone").
 *
 * Invariants:
 *  - the database is reached only through the SQL API (mobisign_authenticate,
 *    mobisign_sign, mobisign_status, mobisign_verify, mobisign_input_limits), as the role of the
 *    connection: row-level security applies;
 *  - every input is bounded: request bodies (BODY_MAX), the user id and the
 *    text (the limits mobisign_input_limits() reports), identifiers by pattern;
 *    every table is bounded (sessions, transactions, event streams);
 *  - nothing the service sends is HTML built from data: pages are static files,
 *    data goes out as JSON and the pages insert it as text (textContent), under
 *    a Content-Security-Policy without inline script;
 *  - a browser sees only the transactions it started (a random browser id in
 *    an HttpOnly SameSite=Strict cookie); it signs only as the user whose
 *    authentication ended VALID_SIGNATURE (502) in that browser;
 *  - a request is served only when its Host is the address it listens on
 *    (127.0.0.1:PORT or localhost:PORT: a DNS-rebinding page is refused, 421)
 *    and a POST only when it is not from another site (Origin, when sent,
 *    is this address; Sec-Fetch-Site is not cross-site: 403);
 *  - the log has one line per request (method, path, status, time) and
 *    SQLSTATEs: never a body, a PIN, a cookie or a connection secret.
 */
const http = require('http');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { Pool, Client } = require('pg');

const BODY_MAX = 4096;
const MAX_SESSIONS = 1000;
const MAX_TRANSACTIONS = 2000;
const MAX_STREAMS = 200;
const SESSION_TTL_MS = 30 * 60 * 1000;
const SCREEN_MAX = 64 * 1024;
const MAX_PHONES = 200;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MSISDN_RE = /^[0-9]{1,20}$/;
const REFERENCE_RE = /^[0-9a-f]{16}$/;
const PIN_RE = /^[0-9]{4,8}$/;
const APPLICATION = 'demo-web';

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  if (i < 0) return dflt;
  if (i + 1 >= process.argv.length) die(`option ${name} needs a value`);
  return process.argv[i + 1];
}
function die(msg) {
  process.stderr.write(`demo-web: ${msg}\n`);
  process.exit(2);
}
function log(msg) {
  process.stderr.write(`${new Date().toISOString()} demo-web: ${msg}\n`);
}

const listen = arg('--listen', '127.0.0.1:8080');
const m = /^(127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|localhost):([0-9]{1,5})$/.exec(listen);
if (!m) die('--listen must be a loopback HOST:PORT');
// one more name the browser may use (an SSH tunnel: --host localhost:9000)
const extraHost = arg('--host', null);
if (extraHost !== null && !/^[A-Za-z0-9.-]{1,253}:[0-9]{1,5}$/.test(extraHost)) die('--host must be NAME:PORT');
const phoneDir = arg('--phone-dir', null);
if (!phoneDir) die('--phone-dir DIR is needed (the simulator\'s DIR/phone)');
const timeoutSeconds = Number(arg('--timeout', '60'));
if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 180)
  die('--timeout must be 1 to 180 seconds');

const pool = new Pool({ max: 4, connectionTimeoutMillis: 5000, statement_timeout: 10000 });
pool.on('error', (e) => log(`pool: ${e.code || 'error'}`));
const limits = { user_id: 256, text_to_sign: 160 };

// ---- bounded tables ----------------------------------------------------------
// Map in insertion order: the oldest entry goes first when one is full.
function bounded(map, max) {
  while (map.size >= max) map.delete(map.keys().next().value);
}
const sessions = new Map();      // browser id -> {user, at}
const transactions = new Map();  // transaction id -> {browser, kind, user}
const streams = new Map();       // transaction id -> Set of responses
const phoneStreams = new Set();

// ---- HTTP helpers ------------------------------------------------------------
const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "img-src 'self'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cache-Control': 'no-store',
};
function send(res, status, type, body, extra) {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, ...(extra || {}) });
  res.end(body);
}
function json(res, status, obj, extra) {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(obj), extra);
}
function fail(res, status, message) {
  json(res, status, { error: message });
}

function cookies(req) {
  const out = {};
  const h = req.headers.cookie;
  if (typeof h !== 'string' || h.length > 4096) return out;
  for (const part of h.split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}
// The browser id: a random token in an HttpOnly cookie, made on first use.
function browserId(req, res) {
  const b = cookies(req).mobisign_demo;
  if (typeof b === 'string' && /^[0-9a-f]{32}$/.test(b)) return b;
  const fresh = crypto.randomBytes(16).toString('hex');
  res.setHeader('Set-Cookie', `mobisign_demo=${fresh}; Path=/; HttpOnly; SameSite=Strict`);
  return fresh;
}

// A JSON body of at most BODY_MAX bytes, sent as application/json (which a
// cross-site form cannot send without the browser asking first).
function readBody(req) {
  return new Promise((resolve, reject) => {
    if (!/^application\/json(;|$)/.test(req.headers['content-type'] || '')) {
      reject(Object.assign(new Error('the body must be application/json'), { status: 415 }));
      return;
    }
    const chunks = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > BODY_MAX) {
        // answer 413, then close the connection (the rest is never read)
        req.removeAllListeners('data');
        req.pause();
        reject(Object.assign(new Error(`the body is longer than ${BODY_MAX} bytes`),
          { status: 413, close: true }));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      try {
        const v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
        resolve(v);
      } catch (e) {
        reject(Object.assign(new Error('the body is not a JSON object'), { status: 400 }));
      }
    });
    req.on('error', reject);
  });
}
function text(v, name, max) {
  if (typeof v !== 'string' || v.length === 0)
    throw Object.assign(new Error(`${name} is missing`), { status: 400 });
  if ([...v].length > max)
    throw Object.assign(new Error(`${name} is longer than ${max} characters`), { status: 400 });
  return v;
}

// ---- the SQL API ---------------------------------------------------------------
async function status(tid) {
  const r = await pool.query(
    `SELECT transaction_id, kind, state, status_code, status_name, reason, signer_subject,
            created_at, completed_at, expires_at
       FROM mobisign_status($1::uuid)`, [tid]);
  return r.rows[0];
}
function isFinal(st) {
  return st && st.completed_at !== null;
}
// A refusal of the SQL API (MSnnn, 22023...) is shown to the person; anything
// else is "internal". Only the SQLSTATE is logged.
function dbError(res, e) {
  log(`sql error ${e.code || '?'}`);
  if (e.code && /^(MS|22|P0)/.test(e.code))
    return json(res, 400, { error: e.message, detail: e.detail || null, sqlstate: e.code });
  return fail(res, 500, 'internal error');
}

async function startTransaction(res, browser, kind, user, call, params) {
  let r;
  try {
    r = await pool.query(call, params);
  } catch (e) {
    return dbError(res, e);
  }
  const row = r.rows[0];
  bounded(transactions, MAX_TRANSACTIONS);
  transactions.set(row.transaction_id, { browser, kind, user });
  json(res, 201, { transaction_id: row.transaction_id, verification_code: row.verification_code });
}

// ---- server-sent events: one LISTEN connection wakes every stream -------------
function sse(res) {
  res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8',
    Connection: 'keep-alive' });
  res.write(': mobisign demo\n\n');
}
function event(res, name, obj) {
  res.write(`event: ${name}\ndata: ${JSON.stringify(obj)}\n\n`);
}
async function publish(tid) {
  const set = streams.get(tid);
  if (!set) return;
  let st;
  try {
    st = await status(tid);
  } catch (e) {
    log(`status after notify: ${e.code || 'error'}`);
    return;
  }
  for (const res of set) {
    event(res, 'status', st);
    if (isFinal(st)) res.end();
  }
  if (isFinal(st)) streams.delete(tid);
}

let listener = null;
async function listenLoop() {
  for (let attempt = 1; ; attempt++) {
    const c = new Client();
    try {
      await c.connect();
      c.on('notification', (n) => {
        // {"transaction_id": ..., "status": ..., "status_name": ...}: a hint to look
        if (n.channel !== 'mobisign' || typeof n.payload !== 'string' || n.payload.length > 8000) return;
        let p;
        try { p = JSON.parse(n.payload); } catch (e) { return; }
        if (p && typeof p.transaction_id === 'string' && streams.has(p.transaction_id)) publish(p.transaction_id);
      });
      await c.query('LISTEN mobisign');
      listener = c;
      log('listening on channel mobisign');
      await new Promise((resolve) => { c.on('error', resolve); c.on('end', resolve); });
      log('the LISTEN connection ended; reconnecting');
    } catch (e) {
      log(`LISTEN connection: ${e.code || e.message}`);
    }
    listener = null;
    try { await c.end(); } catch (e) { /* already closed */ }
    // a notification missed while reconnecting: every open stream looks once
    for (const tid of streams.keys()) publish(tid);
    await new Promise((r) => setTimeout(r, Math.min(5000, 200 * attempt)));
  }
}

async function transactionEvents(req, res, browser, tid) {
  const t = transactions.get(tid);
  if (!t || t.browser !== browser) return fail(res, 404, 'no such transaction');
  let n = 0;
  for (const s of streams.values()) n += s.size;
  if (n >= MAX_STREAMS) return fail(res, 503, 'too many open event streams');
  sse(res);
  if (!streams.has(tid)) streams.set(tid, new Set());
  streams.get(tid).add(res);
  req.on('close', () => {
    const s = streams.get(tid);
    if (s) { s.delete(res); if (s.size === 0) streams.delete(tid); }
  });
  // the state now, once (the transaction may have ended before the stream opened)
  await publish(tid);
}

// ---- the phone: DIR/phone/MSISDN.json in, DIR/phone/MSISDN.decision out -------
// Only the known fields of a screen, with their types checked, go to the page.
function readScreen(file) {
  let st, data;
  try {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      st = fs.fstatSync(fd);
      if (!st.isFile() || st.size > SCREEN_MAX) return null;
      data = Buffer.alloc(st.size);
      fs.readSync(fd, data, 0, st.size, 0);
    } finally {
      fs.closeSync(fd);
    }
    const s = JSON.parse(data.toString('utf8'));
    const str = (v, re) => (typeof v === 'string' && (!re || re.test(v)) ? v : null);
    const out = {
      msisdn: str(s.msisdn, MSISDN_RE), user: str(s.user), state: str(s.state, /^(pending|done)$/),
      outcome: str(s.outcome, /^[a-z_]{1,20}$/), operation: str(s.operation, /^(authenticate|sign)$/),
      reference: str(s.reference, REFERENCE_RE), verification_code: str(s.verification_code, /^[0-9]{4}$/),
      text: str(s.text), expires_at: Number.isInteger(s.expires_at) ? s.expires_at : null,
      tries_left: Number.isInteger(s.tries_left) ? s.tries_left : null, message: str(s.message),
    };
    return out.msisdn && out.state ? out : null;
  } catch (e) {
    return null;
  }
}
function screens() {
  let names = [];
  try { names = fs.readdirSync(phoneDir); } catch (e) { return []; }
  return names.filter((f) => /^[0-9]{1,20}\.json$/.test(f)).slice(0, MAX_PHONES)
    .map((f) => readScreen(path.join(phoneDir, f))).filter(Boolean);
}
let phoneWatch = null;
function watchPhones() {
  if (phoneWatch) return;
  try {
    fs.mkdirSync(phoneDir, { recursive: true });
    phoneWatch = fs.watch(phoneDir, (kind, name) => {
      if (typeof name !== 'string' || !/^[0-9]{1,20}\.json$/.test(name)) return;
      const s = readScreen(path.join(phoneDir, name));
      if (s) for (const res of phoneStreams) event(res, 'screen', s);
    });
  } catch (e) {
    log(`cannot watch ${phoneDir}: ${e.code || e.message}`);
  }
}
function phoneEvents(req, res) {
  if (phoneStreams.size >= MAX_STREAMS) return fail(res, 503, 'too many open event streams');
  sse(res);
  phoneStreams.add(res);
  req.on('close', () => phoneStreams.delete(res));
  for (const s of screens()) event(res, 'screen', s);
}
function writeDecision(body) {
  const msisdn = body.msisdn, reference = body.reference, decision = body.decision;
  if (typeof msisdn !== 'string' || !MSISDN_RE.test(msisdn)) throw Object.assign(new Error('bad msisdn'), { status: 400 });
  if (typeof reference !== 'string' || !REFERENCE_RE.test(reference)) throw Object.assign(new Error('bad reference'), { status: 400 });
  let line;
  if (decision === 'decline') line = `${reference} decline\n`;
  else if (decision === 'sign') {
    if (typeof body.pin !== 'string' || !PIN_RE.test(body.pin))
      throw Object.assign(new Error('the PIN is 4 to 8 digits'), { status: 400 });
    line = `${reference} sign ${body.pin}\n`;
  } else throw Object.assign(new Error('decision must be sign or decline'), { status: 400 });
  // only for a prompt the phone shows now: at most one decision file per phone
  const screen = readScreen(path.join(phoneDir, `${msisdn}.json`));
  if (!screen || screen.state !== 'pending' || screen.reference !== reference)
    throw Object.assign(new Error('the phone shows no such prompt'), { status: 409 });
  const tmp = path.join(phoneDir, `.${msisdn}.${crypto.randomBytes(6).toString('hex')}.tmp`);
  fs.writeFileSync(tmp, line, { mode: 0o600, flag: 'wx' });
  fs.renameSync(tmp, path.join(phoneDir, `${msisdn}.decision`));
}

// ---- static pages ---------------------------------------------------------------
const PUBLIC = path.join(__dirname, 'public');
const STATIC = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/phone': ['phone.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/phone.js': ['phone.js', 'text/javascript; charset=utf-8'],
  '/common.js': ['common.js', 'text/javascript; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
};
const files = {};
for (const [route, [name, type]] of Object.entries(STATIC))
  files[route] = { body: fs.readFileSync(path.join(PUBLIC, name)), type };

// ---- routes ---------------------------------------------------------------------
async function route(req, res, url) {
  const p = url.pathname;
  if (req.method === 'GET' && files[p]) {
    browserId(req, res);
    return send(res, 200, files[p].type, files[p].body);
  }
  if (req.method === 'GET' && p === '/favicon.ico') return send(res, 204, 'image/x-icon', '');
  const browser = browserId(req, res);
  if (req.method === 'GET' && p === '/api/whoami') {
    const s = sessions.get(browser);
    return json(res, 200, { user: s && Date.now() - s.at < SESSION_TTL_MS ? s.user : null,
      timeout_seconds: timeoutSeconds });
  }
  if (req.method === 'POST' && p === '/api/login') {
    const body = await readBody(req);
    const user = text(body.user, 'user id', limits.user_id);
    return startTransaction(res, browser, 'authenticate', user,
      `SELECT transaction_id, verification_code
         FROM mobisign_authenticate($1, application => $2, timeout => $3::interval)`,
      [user, APPLICATION, `${timeoutSeconds} s`]);
  }
  if (req.method === 'POST' && p === '/api/session') {
    // the login ends here: the authentication this browser started is 502
    const body = await readBody(req);
    const tid = body.transaction_id;
    const t = typeof tid === 'string' && UUID_RE.test(tid) ? transactions.get(tid) : null;
    if (!t || t.browser !== browser || t.kind !== 'authenticate') return fail(res, 404, 'no such authentication');
    let st;
    try { st = await status(tid); } catch (e) { return dbError(res, e); }
    if (st.status_code !== 502) return json(res, 403, { error: 'not authenticated', status: st });
    bounded(sessions, MAX_SESSIONS);
    sessions.set(browser, { user: t.user, at: Date.now() });
    return json(res, 200, { user: t.user, status: st });
  }
  if (req.method === 'POST' && p === '/api/logout') {
    sessions.delete(browser);
    return json(res, 200, { user: null });
  }
  if (req.method === 'POST' && p === '/api/sign') {
    const s = sessions.get(browser);
    if (!s || Date.now() - s.at >= SESSION_TTL_MS) return fail(res, 401, 'log in first');
    const body = await readBody(req);
    const t = text(body.text, 'the text to sign', limits.text_to_sign);
    return startTransaction(res, browser, 'sign', s.user,
      `SELECT transaction_id, verification_code
         FROM mobisign_sign($1, $2, application => $3, timeout => $4::interval)`,
      [s.user, t, APPLICATION, `${timeoutSeconds} s`]);
  }
  let mm;
  if (req.method === 'POST' && (mm = /^\/api\/transactions\/([0-9a-f-]{36})\/verify$/.exec(p)) && UUID_RE.test(mm[1])) {
    // verify the stored signature again, with today's certificates and CRLs
    const t = transactions.get(mm[1]);
    if (!t || t.browser !== browser || t.kind !== 'sign') return fail(res, 404, 'no such signature');
    try {
      const r = await pool.query(
        `SELECT valid, status_code, status_name, reason, signer_subject, checked_at
           FROM mobisign_verify($1::uuid)`, [mm[1]]);
      return json(res, 200, r.rows[0]);
    } catch (e) {
      return dbError(res, e);
    }
  }
  if (req.method === 'GET' && (mm = /^\/api\/transactions\/([0-9a-f-]{36})\/events$/.exec(p)) && UUID_RE.test(mm[1]))
    return transactionEvents(req, res, browser, mm[1]);
  if (req.method === 'GET' && p === '/api/phone/events') return phoneEvents(req, res);
  if (req.method === 'POST' && p === '/api/phone/decision') {
    writeDecision(await readBody(req));
    return json(res, 202, { accepted: true });
  }
  return fail(res, 404, 'not found');
}

// The names this service answers to: its loopback address and localhost, with
// its port. Anything else in Host is a page of another site that made its name
// point here (DNS rebinding): it would be same-origin to that page.
function ownHosts() {
  const port = server.address() ? server.address().port : Number(m[2]);
  const hosts = new Set([`${m[1]}:${port}`, `localhost:${port}`, `127.0.0.1:${port}`]);
  if (extraHost) hosts.add(extraHost.toLowerCase());
  return hosts;
}
function sameSite(req) {
  const hosts = ownHosts();
  if (!hosts.has((req.headers.host || '').toLowerCase())) return 421;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const origin = req.headers.origin;
    if (origin !== undefined && !(typeof origin === 'string' && /^http:\/\//.test(origin) &&
        hosts.has(origin.slice('http://'.length).toLowerCase()))) return 403;
    if (req.headers['sec-fetch-site'] === 'cross-site') return 403;
  }
  return 0;
}

const server = http.createServer((req, res) => {
  const t0 = Date.now();
  let url;
  try {
    if ((req.url || '').length > 2048) throw new Error('long');
    url = new URL(req.url, 'http://localhost');
  } catch (e) {
    return fail(res, 400, 'bad request');
  }
  res.on('finish', () => log(`${req.method} ${url.pathname.slice(0, 100)} ${res.statusCode} ${Date.now() - t0} ms`));
  const refused = sameSite(req);
  if (refused) return fail(res, refused, refused === 421 ? 'unknown host' : 'cross-site request');
  route(req, res, url).catch((e) => {
    if (res.headersSent) { res.end(); return; }
    if (e.close) {
      res.setHeader('Connection', 'close');
      res.on('finish', () => req.socket.destroy());
    }
    if (e.status) return fail(res, e.status, e.message);
    log(`error: ${e.code || 'internal'}`);
    fail(res, 500, 'internal error');
  });
});
server.headersTimeout = 10000;
server.requestTimeout = 15000;
server.maxHeadersCount = 50;
server.maxConnections = 256;

async function main() {
  // the limits come from the SQL API (one home for them)
  try {
    const r = await pool.query('SELECT argument, max_characters FROM mobisign_input_limits()');
    for (const row of r.rows) if (row.argument in limits) limits[row.argument] = row.max_characters;
  } catch (e) {
    die(`cannot reach the database as an application role (${e.code || e.message})`);
  }
  watchPhones();
  listenLoop();
  server.listen(Number(m[2]), m[1], () => {
    log(`listening on http://${m[1]}:${server.address().port}/ (phone: /phone); transactions time out after ${timeoutSeconds} s`);
  });
}
function stop() {
  log('stopping');
  for (const set of streams.values()) for (const res of set) res.end();
  for (const res of phoneStreams) res.end();
  if (phoneWatch) phoneWatch.close();
  server.close();
  Promise.allSettled([pool.end(), listener ? listener.end() : null]).then(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
main();
