'use strict';
// Shared by the pages: data is only ever inserted as text (textContent).
function $(id) { return document.getElementById(id); }
function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function say(id, message, kind) {
  const e = $(id);
  e.textContent = message;
  e.className = 'status' + (kind ? ' ' + kind : '');
}
async function post(url, body) {
  const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body || {}), credentials: 'same-origin' });
  let data = {};
  try { data = await r.json(); } catch (e) { /* no body */ }
  if (!r.ok) {
    const err = new Error(data.error || ('HTTP ' + r.status));
    err.data = data;
    throw err;
  }
  return data;
}
