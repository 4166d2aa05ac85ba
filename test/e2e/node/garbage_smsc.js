'use strict';
/*
 * A hostile SMSC for the worker's robustness check (test/e2e/20_worker_faults.sh):
 * plain node, no library, raw SMPP frames. After answering the worker's
 * bind_transceiver it sends, one at a time, PDUs the worker must survive, and
 * records what the worker answered. Finally it sends a frame whose length is
 * below 16, which breaks the framing: the worker must answer generic_nack
 * ESME_RINVCMDLEN, drop the session and bind again.
 *
 *   node garbage_smsc.js --port P --out FILE
 *
 * FILE receives JSON: {binds, answers: {name: [command_id, status]}, done}.
 * Bounded: the script exits by itself after 60 s.
 */
const net = require('net');
const fs = require('fs');

function arg(name, dflt) {
  const i = process.argv.indexOf('--' + name);
  return i < 0 ? dflt : process.argv[i + 1];
}
const port = parseInt(arg('port', '2810'), 10);
const out = arg('out', '/dev/stdout');

const result = { binds: 0, answers: {}, done: false, sessions: 0 };
const save = () => fs.writeFileSync(out, JSON.stringify(result) + '\n');

function header(len, id, status, seq) {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(len, 0);
  b.writeUInt32BE(id >>> 0, 4);
  b.writeUInt32BE(status >>> 0, 8);
  b.writeUInt32BE(seq >>> 0, 12);
  return b;
}
function pdu(id, status, seq, body) {
  body = body || Buffer.alloc(0);
  return Buffer.concat([header(16 + body.length, id, status, seq), body]);
}
const cstr = (s) => Buffer.concat([Buffer.from(s, 'latin1'), Buffer.from([0])]);

// deliver_sm body: service_type, src ton/npi/addr, dst ton/npi/addr, esm_class,
// protocol_id, priority, schedule, validity, registered_delivery,
// replace_if_present, data_coding, sm_default_msg_id, sm_length, short_message
function deliverBody(opts) {
  const ud = opts.ud || Buffer.alloc(0);
  return Buffer.concat([
    cstr(''), Buffer.from([1, 1]), cstr(opts.src || '3585000009999'),
    Buffer.from([0, 0]), cstr(''),
    Buffer.from([opts.esm || 0, opts.pid || 0, 0]),
    cstr(opts.schedule || ''), cstr(''),
    Buffer.from([0, 0, opts.dcs || 0, 0, ud.length]), ud,
  ]);
}

const DELIVER_SM = 0x00000005;
// each step: [name, buffer to send, command_id of the answer expected (0: none)]
const udh = Buffer.from([0x05, 0x00, 0x03, 0x42, 0x02, 0x01, 0xde, 0xad, 0xbe, 0xef]);
const steps = [
  ['unknown_command', pdu(0x00000999, 0, 101), 0x80000000],
  ['generic_nack_seq0', pdu(0x80000000, 0x00000003, 0), 0],
  ['vendor_status_response', pdu(0x80000004, 0x00000400, 102), 0],
  ['deliver_sm_bad_body', pdu(DELIVER_SM, 0, 103, deliverBody({ schedule: '260101000000000+', ud: udh })), 0x80000005],
  ['deliver_sm_truncated', pdu(DELIVER_SM, 0, 104, Buffer.from([0, 1, 1])), 0x80000005],
  ['deliver_sm_receipt', pdu(DELIVER_SM, 0, 105, deliverBody({ esm: 0x04, ud: Buffer.from('id:1 stat:DELIVRD') })), 0x80000005],
  ['deliver_sm_segment', pdu(DELIVER_SM, 0, 106, deliverBody({ esm: 0x40, pid: 0x7f, dcs: 0xf6, ud: udh })), 0x80000005],
  ['deliver_sm_duplicate', pdu(DELIVER_SM, 0, 107, deliverBody({ esm: 0x40, pid: 0x7f, dcs: 0xf6, ud: udh })), 0x80000005],
  ['enquire_link', pdu(0x00000015, 0, 108), 0x80000015],
];

const server = net.createServer((sock) => {
  result.sessions++;
  let buf = Buffer.alloc(0);
  let step = -1;
  let bound = false;

  const next = () => {
    step++;
    if (step < steps.length) {
      sock.write(steps[step][1]);
      if (steps[step][2] === 0) setTimeout(next, 200);
      return;
    }
    if (result.sessions === 1) {
      // finally break the framing: a length below the 16-byte header
      const bad = Buffer.alloc(8);
      bad.writeUInt32BE(8, 0);
      sock.write(bad);
    }
    result.done = true;
    save();
  };

  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 16) {
      const len = buf.readUInt32BE(0);
      if (buf.length < len) break;
      const id = buf.readUInt32BE(4);
      const status = buf.readUInt32BE(8);
      const seq = buf.readUInt32BE(12);
      buf = buf.slice(len);
      if (id === 0x00000009) { // bind_transceiver
        result.binds++;
        sock.write(pdu(0x80000009, 0, seq, cstr('garbage')));
        save();
        if (!bound && result.sessions === 1) {
          bound = true;
          setTimeout(next, 200);
        }
        continue;
      }
      if (id === 0x00000015) { // the worker's enquire_link
        sock.write(pdu(0x80000015, 0, seq));
        continue;
      }
      if (id === 0x00000006) { // unbind
        sock.write(pdu(0x80000006, 0, seq));
        continue;
      }
      if (id === 0x80000000 && result.done) {
        result.answers.bad_length = [id, status];
        save();
        continue;
      }
      if (step >= 0 && step < steps.length && steps[step][2] === id) {
        result.answers[steps[step][0]] = [id, status, seq];
        save();
        setTimeout(next, 100);
      }
    }
  });
  sock.on('error', () => {});
});
server.listen(port, '127.0.0.1', save);
setTimeout(() => process.exit(0), 60000);
process.on('SIGTERM', () => process.exit(0));
