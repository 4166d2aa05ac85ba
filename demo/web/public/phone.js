'use strict';
// The phones: every screen the simulator writes (DIR/phone/MSISDN.json)
// arrives as a server-sent event; the buttons send the person's decision.
const OUTCOMES = {
  signed: 'PIN accepted: signed.', declined: 'Declined.', timed_out: 'Timed out: nobody answered.',
  pin_blocked: 'PIN blocked.', replaced: 'Replaced by a newer request.', phone_off: 'Phone switched off.',
  dropped: 'Dropped.',
};

function phoneBox(msisdn) {
  let box = document.querySelector('.phone[data-msisdn="' + CSS.escape(msisdn) + '"]');
  if (box) return box;
  box = el('section', 'phone card');
  box.dataset.msisdn = msisdn;
  const none = $('no-phone');
  if (none) none.remove();
  $('phones').appendChild(box);
  return box;
}

function render(s) {
  const box = phoneBox(s.msisdn);
  box.replaceChildren();
  box.dataset.state = s.state;
  box.dataset.reference = s.reference || '';
  box.appendChild(el('h2', 'number', '+' + s.msisdn + (s.user ? ' (' + s.user + ')' : '')));
  const screen = el('div', 'screen');
  screen.appendChild(el('p', 'op', s.operation === 'authenticate' ? 'Log in?' : 'Sign?'));
  screen.appendChild(el('p', 'text', s.text));
  screen.appendChild(el('p', 'vcode', 'Code ' + (s.verification_code || '')));
  box.appendChild(screen);
  if (s.state === 'pending') {
    if (s.message) box.appendChild(el('p', 'message', s.message));
    const pin = el('input', 'pin');
    pin.type = 'password';
    pin.inputMode = 'numeric';
    pin.maxLength = 8;
    pin.autocomplete = 'off';
    pin.placeholder = 'PIN';
    pin.setAttribute('aria-label', 'PIN');
    const row = el('div', 'row');
    const signBtn = el('button', 'sign', 'Sign');
    signBtn.type = 'button';
    const declineBtn = el('button', 'decline secondary', 'Decline');
    declineBtn.type = 'button';
    row.append(pin, signBtn, declineBtn);
    box.appendChild(row);
    const note = el('p', 'small', 'tries left: ' + s.tries_left + (s.expires_at ?
      ' - expires ' + new Date(s.expires_at * 1000).toLocaleTimeString() : ''));
    box.appendChild(note);
    const decide = async (decision) => {
      signBtn.disabled = declineBtn.disabled = true;
      try {
        await post('/api/phone/decision', { msisdn: s.msisdn, reference: s.reference, decision,
          pin: decision === 'sign' ? pin.value : undefined });
      } catch (e) {
        signBtn.disabled = declineBtn.disabled = false;
        note.textContent = e.message;
      }
    };
    signBtn.addEventListener('click', () => decide('sign'));
    declineBtn.addEventListener('click', () => decide('decline'));
    pin.addEventListener('keydown', (e) => { if (e.key === 'Enter') decide('sign'); });
  } else {
    box.appendChild(el('p', 'outcome', OUTCOMES[s.outcome] || s.outcome || ''));
  }
}

document.addEventListener('DOMContentLoaded', () => {
  const es = new EventSource('/api/phone/events');
  es.addEventListener('screen', (ev) => {
    try { render(JSON.parse(ev.data)); } catch (e) { /* a bad screen is skipped */ }
  });
});
