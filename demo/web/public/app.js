'use strict';
// The webshop page: log in, then sign. The outcome of each transaction comes
// as a server-sent event the moment it ends (no polling).
let busy = false;
let lastSignature = null;

function statusText(st) {
  return st.status_name + ' (' + st.status_code + ')' + (st.reason ? ': ' + st.reason : '');
}

// Start a transaction (POST url body), show its verification code in the box
// prefix-wait / prefix-code, follow it on its event stream, then onFinal(st, tx).
async function transaction(prefix, url, body, onFinal) {
  if (busy) return;
  busy = true;
  $(prefix + '-wait').hidden = true;
  say(prefix + '-status', 'Sending the request to your phone...');
  let tx;
  try {
    tx = await post(url, body);
  } catch (e) {
    busy = false;
    say(prefix + '-status', e.message, 'bad');
    return;
  }
  $(prefix + '-code').textContent = tx.verification_code;
  $(prefix + '-wait').hidden = false;
  say(prefix + '-status', 'Waiting for your phone...', 'waiting');
  const es = new EventSource('/api/transactions/' + encodeURIComponent(tx.transaction_id) + '/events');
  es.addEventListener('status', (ev) => {
    let st;
    try { st = JSON.parse(ev.data); } catch (e) { return; }
    if (!st.completed_at) return;
    es.close();
    busy = false;
    $(prefix + '-wait').hidden = true;
    onFinal(st, tx);
  });
  es.onerror = () => { if (es.readyState === EventSource.CLOSED) busy = false; };
}

function showAccount(user, signer) {
  $('login-box').hidden = true;
  $('account').hidden = false;
  $('whoami').textContent = user;
  $('auth-signer').textContent = signer || '';
}

function login() {
  const user = $('user').value.trim();
  if (!user) { say('login-status', 'Enter your user id.', 'bad'); return; }
  transaction('login', '/api/login', { user }, async (st, tx) => {
    if (st.status_code !== 502) {
      say('login-status', 'Not logged in: ' + statusText(st), 'bad');
      return;
    }
    try {
      const s = await post('/api/session', { transaction_id: tx.transaction_id });
      say('login-status', '');
      showAccount(s.user, s.status.signer_subject);
    } catch (e) {
      say('login-status', e.message, 'bad');
    }
  });
}

function sign() {
  $('result').hidden = true;
  transaction('sign', '/api/sign', { text: $('text').value }, (st) => {
    const ok = st.status_code === 502;
    say('sign-status', ok ? 'Signed.' : 'Not signed: ' + statusText(st), ok ? 'good' : 'bad');
    $('result-signer').textContent = st.signer_subject || '-';
    $('result-status').textContent = statusText(st);
    $('result-time').textContent = new Date(st.completed_at).toLocaleString();
    $('result-transaction').textContent = st.transaction_id;
    $('result-verified').textContent = '';
    $('verify').hidden = !ok;
    lastSignature = ok ? st.transaction_id : null;
    $('result').hidden = false;
  });
}

// mobisign_verify(transaction_id): the stored signature, checked again now
async function verify() {
  if (!lastSignature) return;
  $('result-verified').textContent = '...';
  try {
    const v = await post('/api/transactions/' + encodeURIComponent(lastSignature) + '/verify');
    $('result-verified').textContent = (v.valid ? 'valid' : 'NOT valid') + ': ' + v.status_name +
      ' (' + v.status_code + ') at ' + new Date(v.checked_at).toLocaleTimeString();
  } catch (e) {
    $('result-verified').textContent = e.message;
  }
}

async function logout() {
  await post('/api/logout');
  $('account').hidden = true;
  $('login-box').hidden = false;
  $('result').hidden = true;
  say('sign-status', '');
}

document.addEventListener('DOMContentLoaded', async () => {
  $('login').addEventListener('click', login);
  $('user').addEventListener('keydown', (e) => { if (e.key === 'Enter') login(); });
  $('sign').addEventListener('click', sign);
  $('logout').addEventListener('click', logout);
  $('verify').addEventListener('click', verify);
  try {
    const r = await fetch('/api/whoami', { credentials: 'same-origin' });
    const w = await r.json();
    if (w.user) showAccount(w.user, '');
  } catch (e) { /* not logged in */ }
});
