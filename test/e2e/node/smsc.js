'use strict';
/*
 * An SMSC that mobisign did not write: node-smpp (npm "smpp" 0.5.x) scripted
 * as an SMPP 3.4 server for mobisign's worker, used by
 * test/e2e/30_interop_node_smpp.sh (and handy for trying the worker alone).
 *
 *   node smsc.js --port P --system-id ID --password PW
 *                [--relay HOST:PORT --relay-system-id ID --relay-password PW]
 *                [--echo] [--stats FILE] [--control FILE]
 *
 * It accepts bind_transceiver (checking system_id and password), answers
 * enquire_link (node-smpp does not by itself) and unbind, and for each
 * submit_sm either
 *   --relay: forwards it, as an ESME bound to another SMSC (the mobisign-sim
 *            simulator playing the phones), answers the worker with the
 *            upstream status and its own message id, and relays the upstream
 *            deliver_sm back to the worker, acknowledging upstream with the
 *            worker's deliver_sm_resp status; or
 *   --echo:  answers ESME_ROK and sends the same user data back as an MO
 *            deliver_sm from the destination number.
 * Counters are written as JSON to --stats after every event and on exit.
 * --control names a JSON file read at every relayed submit_sm:
 * {"resp_delay_ms": N} holds the worker's submit_sm_resp back N ms (at most
 * 5000) after the upstream's, so that the SIM's answer reaches the worker
 * first, as behind an SMSC that acknowledges late.
 * Everything is bounded: upstream reconnects at most 100 times.
 */
const fs = require('fs');
const smpp = require('smpp');

// Binary SMS (data_coding 0xF6, UDH): keep short_message and message_payload
// as raw bytes both ways (node-smpp would otherwise decode them as text).
for (const c of ['submit_sm', 'deliver_sm', 'data_sm']) {
  if (smpp.commands[c] && smpp.commands[c].params.short_message) {
    smpp.commands[c].params.short_message.filter = null;
  }
}
smpp.tlvs.message_payload.filter = null;

function arg(name, dflt) {
  const i = process.argv.indexOf('--' + name);
  if (i < 0) return dflt;
  const v = process.argv[i + 1];
  return v === undefined || v.startsWith('--') ? true : v;
}

const port = parseInt(arg('port', '2775'), 10);
const systemId = arg('system-id', 'mobisign');
const password = arg('password', 'secret');
const relay = arg('relay', null);
const relaySystemId = arg('relay-system-id', '');
const relayPassword = arg('relay-password', '');
const echo = !!arg('echo', false);
const statsFile = arg('stats', null);
const controlFile = arg('control', null);

// the control file's resp_delay_ms, bounded; 0 when absent or unreadable
function respDelay() {
  if (!controlFile) return 0;
  try {
    const d = parseInt(JSON.parse(fs.readFileSync(controlFile, 'utf8')).resp_delay_ms, 10);
    return Number.isFinite(d) ? Math.min(Math.max(d, 0), 5000) : 0;
  } catch (e) {
    return 0;
  }
}

const stats = {
  binds: 0, bind_refused: 0, enquire_links: 0, unbinds: 0,
  submit_sm: 0, submit_sm_ok: 0, submit_sm_failed: 0,
  deliver_sm_sent: 0, deliver_sm_acked: 0, deliver_sm_refused: 0,
  relay_binds: 0, relay_deliver_sm: 0, sessions: 0,
};
function writeStats() {
  if (statsFile) fs.writeFileSync(statsFile, JSON.stringify(stats) + '\n');
}
function log(msg) {
  process.stdout.write(new Date().toISOString() + ' smsc: ' + msg + '\n');
}

let workerSessions = [];
let nextMessageId = 1;

function boundWorker() {
  return workerSessions.find((s) => s.bound) || null;
}

// ---- upstream (relay) ------------------------------------------------------
let upstream = null;
let upstreamBound = false;
let upstreamAttempts = 0;

function connectUpstream() {
  if (!relay || upstreamAttempts >= 100) return;
  upstreamAttempts++;
  const [host, p] = relay.split(':');
  const s = smpp.connect({ host, port: parseInt(p, 10) });
  upstream = s;
  s.on('connect', () => {
    // node-smpp defaults to interface_version 0x50 (SMPP 5.0); speak 3.4
    s.bind_transceiver({ system_id: relaySystemId, password: relayPassword,
      interface_version: 0x34 }, (pdu) => {
      if (pdu.command_status === 0) {
        upstreamBound = true;
        stats.relay_binds++;
        log('bound upstream to ' + relay);
        writeStats();
      } else {
        log('upstream bind refused: ' + pdu.command_status);
      }
    });
  });
  s.on('enquire_link', (pdu) => s.send(pdu.response()));
  s.on('unbind', (pdu) => { s.send(pdu.response()); s.close(); });
  s.on('deliver_sm', (pdu) => {
    stats.relay_deliver_sm++;
    const w = boundWorker();
    if (!w) {
      // nobody to hand it to: temporary error, the simulator tries again
      s.send(pdu.response({ command_status: smpp.ESME_RX_T_APPN }));
      return;
    }
    sendDeliver(w, pdu, (status) => s.send(pdu.response({ command_status: status })));
  });
  const retry = () => {
    upstreamBound = false;
    if (upstream === s) setTimeout(connectUpstream, 500);
  };
  s.on('close', retry);
  s.on('error', (e) => log('upstream error: ' + e.message));
}

// ---- towards the worker ----------------------------------------------------
function sendDeliver(w, src, done) {
  const fields = {
    source_addr_ton: src.source_addr_ton, source_addr_npi: src.source_addr_npi,
    source_addr: src.source_addr,
    dest_addr_ton: src.dest_addr_ton, dest_addr_npi: src.dest_addr_npi,
    destination_addr: src.destination_addr,
    esm_class: src.esm_class, protocol_id: src.protocol_id,
    data_coding: src.data_coding, short_message: src.short_message,
  };
  if (src.message_payload) fields.message_payload = src.message_payload;
  stats.deliver_sm_sent++;
  w.deliver_sm(fields, (resp) => {
    if (resp.command_status === 0) stats.deliver_sm_acked++;
    else stats.deliver_sm_refused++;
    writeStats();
    done(resp.command_status);
  });
}

const server = smpp.createServer((session) => {
  stats.sessions++;
  workerSessions.push(session);
  session.bound = false;
  session.on('bind_transceiver', (pdu) => {
    if (pdu.system_id !== systemId || pdu.password !== password) {
      stats.bind_refused++;
      session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
      log('bind refused for system_id "' + pdu.system_id + '"');
      writeStats();
      return;
    }
    stats.binds++;
    session.bound = true;
    session.send(pdu.response({ system_id: 'node-smpp' }));
    log('worker bound as "' + pdu.system_id + '"');
    writeStats();
  });
  session.on('enquire_link', (pdu) => {
    stats.enquire_links++;
    session.send(pdu.response());
    writeStats();
  });
  session.on('unbind', (pdu) => {
    stats.unbinds++;
    session.send(pdu.response());
    writeStats();
    session.close();
  });
  session.on('submit_sm', (pdu) => {
    stats.submit_sm++;
    if (!session.bound) {
      session.send(pdu.response({ command_status: smpp.ESME_RINVBNDSTS }));
      return;
    }
    const id = 'n' + (nextMessageId++);
    if (echo) {
      stats.submit_sm_ok++;
      session.send(pdu.response({ message_id: id }));
      sendDeliver(session, {
        source_addr_ton: pdu.dest_addr_ton, source_addr_npi: pdu.dest_addr_npi,
        source_addr: pdu.destination_addr, dest_addr_ton: 0, dest_addr_npi: 0,
        destination_addr: pdu.source_addr || '', esm_class: pdu.esm_class,
        protocol_id: pdu.protocol_id, data_coding: pdu.data_coding,
        short_message: pdu.short_message, message_payload: pdu.message_payload,
      }, () => {});
      writeStats();
      return;
    }
    if (!upstream || !upstreamBound) {
      stats.submit_sm_failed++;
      session.send(pdu.response({ command_status: smpp.ESME_RSYSERR }));
      writeStats();
      return;
    }
    const fwd = {
      source_addr_ton: pdu.source_addr_ton, source_addr_npi: pdu.source_addr_npi,
      source_addr: pdu.source_addr, dest_addr_ton: pdu.dest_addr_ton,
      dest_addr_npi: pdu.dest_addr_npi, destination_addr: pdu.destination_addr,
      esm_class: pdu.esm_class, protocol_id: pdu.protocol_id,
      registered_delivery: pdu.registered_delivery, data_coding: pdu.data_coding,
      short_message: pdu.short_message,
    };
    if (pdu.message_payload) fwd.message_payload = pdu.message_payload;
    upstream.submit_sm(fwd, (resp) => {
      setTimeout(() => {
        if (resp.command_status === 0) {
          stats.submit_sm_ok++;
          session.send(pdu.response({ message_id: id }));
        } else {
          stats.submit_sm_failed++;
          session.send(pdu.response({ command_status: resp.command_status }));
        }
        writeStats();
      }, respDelay());
    });
  });
  session.on('close', () => {
    workerSessions = workerSessions.filter((s) => s !== session);
  });
  session.on('error', (e) => log('session error: ' + e.message));
});

server.listen(port, '127.0.0.1', () => {
  log('listening on 127.0.0.1:' + port + (relay ? ', relaying to ' + relay : echo ? ', echo mode' : ''));
  writeStats();
});
connectUpstream();

function stop() {
  writeStats();
  log('stopping');
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
