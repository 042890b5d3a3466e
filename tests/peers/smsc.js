#!/usr/bin/env node
// An independent SMPP 3.4 SMSC for hongyan's integration tests, built on the
// npm library `smpp` (node-smpp).  It is a peer this project did not write:
// keep its behaviour simple, deterministic and documented in node_smsc.py.
//
//   node smsc.js --port P --control-port C --system-id S --password W
//                [--failure-ratio 0.1] [--receipt-delay-ms 200] [--first-id 6699]
//                [--response-delay-ms 0]
//
// --response-delay-ms holds each submit_sm_resp that long (a carrier far away);
// POST /delay {"seconds": 0.3} changes it while running. Every submit records
// `bind`: the number of the session it came over, 1 for the first bind, so
// tests can see how an ESME spreads its submits over its binds.
// Prints one line `ready` on stdout once both ports listen; logs go to stderr.
'use strict';

const http = require('http');
const smpp = require('smpp');

// node-smpp decodes short_message / message_payload on receipt (GSM 03.38 for
// data_coding 0, UTF-16BE for 8, splitting off the UDH) and the result is lossy.
// We want the raw octets, so decoding is turned off: both arrive as Buffers.
// On the way out a Buffer is written as is (no re-encoding, no esm_class change).
smpp.filters.message.decode = (value) => value;

function parseArgs(argv) {
  const opts = {
    port: 0,
    controlPort: 0,
    systemId: 'hongyan',
    password: 'secret',
    failureRatio: 0,
    receiptDelayMs: 200,
    firstId: 0x1a2b,
    responseDelayMs: 0,
  };
  const names = {
    '--port': ['port', Number],
    '--control-port': ['controlPort', Number],
    '--system-id': ['systemId', String],
    '--password': ['password', String],
    '--failure-ratio': ['failureRatio', Number],
    '--receipt-delay-ms': ['receiptDelayMs', Number],
    '--first-id': ['firstId', Number],
    '--response-delay-ms': ['responseDelayMs', Number],
  };
  for (let i = 0; i < argv.length; i += 2) {
    const spec = names[argv[i]];
    if (!spec || i + 1 >= argv.length) {
      process.stderr.write(`smsc: bad argument ${argv[i]}\n`);
      process.exit(2);
    }
    opts[spec[0]] = spec[1](argv[i + 1]);
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const RETRY_MS = 500;
const WINDOW = 64; // outstanding deliver_sm per session
const RESP_TIMEOUT_MS = 10000;
const HOST = '127.0.0.1';

const E = smpp.errors;
const counters = {
  binds: 0,
  bind_total: 0,
  submits: 0,
  throttled: 0,
  rejected: 0,
  receipts_acked: 0,
  receipts_pending: 0,
  mo_acked: 0,
  mo_pending: 0,
};
const submits = [];
let nextId = opts.firstId;
let throttleUntil = 0;
let moRef = 0;
let sessionCount = 0;

function log(msg) {
  process.stderr.write(`smsc: ${msg}\n`);
}

// ---------------------------------------------------------------- outbound queue
// Items are deliver_sm PDUs (receipts and MO) kept until acknowledged with status 0.
class Deque {
  constructor() {
    this.items = [];
    this.head = 0;
  }
  get length() {
    return this.items.length - this.head;
  }
  push(x) {
    this.items.push(x);
  }
  peek() {
    return this.items[this.head];
  }
  shift() {
    const x = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }
}

const ready = new Deque();
const bound = new Set(); // sessions bound as receiver or transceiver

function schedule(item, delayMs) {
  if (delayMs <= 0) {
    ready.push(item);
    setImmediate(pump);
    return;
  }
  setTimeout(() => {
    ready.push(item);
    pump();
  }, delayMs);
}

function pickSession() {
  let best = null;
  for (const s of bound) {
    if (!s.socket.writable || s.inflight.size >= WINDOW) continue;
    if (s.frozenUntil && Date.now() < s.frozenUntil) continue;
    if (!best || s.inflight.size < best.inflight.size) best = s;
  }
  return best;
}

function pump() {
  while (ready.length) {
    const session = pickSession();
    if (!session) return;
    const item = ready.shift();
    sendItem(session, item);
  }
}

function sendItem(session, item) {
  const attempt = ++item.attempt;
  const pdu = new smpp.PDU('deliver_sm', Object.assign({}, item.fields));
  const settle = (ok) => {
    if (item.attempt !== attempt || item.session !== session) return; // stale
    clearTimeout(item.timer);
    item.timer = null;
    item.session = null;
    session.inflight.delete(item);
    if (ok) {
      counters[`${item.kind}_acked`] += 1;
      counters[`${item.kind}_pending`] -= 1;
    } else {
      schedule(item, RETRY_MS);
    }
    pump();
  };
  item.session = session;
  session.inflight.add(item);
  item.settle = settle;
  item.timer = setTimeout(() => settle(false), RESP_TIMEOUT_MS);
  const sent = session.send(pdu, (resp) => settle(resp.command_status === 0));
  if (!sent) settle(false);
}

function enqueue(kind, fields, delayMs) {
  counters[`${kind}_pending`] += 1;
  schedule({ kind, fields, attempt: 0, session: null, timer: null, settle: null }, delayMs);
}

// ---------------------------------------------------------------- SMPP server
function stamp(date) {
  const p = (n) => String(n).padStart(2, '0');
  return (
    p(date.getUTCFullYear() % 100) +
    p(date.getUTCMonth() + 1) +
    p(date.getUTCDate()) +
    p(date.getUTCHours()) +
    p(date.getUTCMinutes())
  );
}

function failsByHash(n) {
  // Same as ((n * 2654435761) >>> 0) % 10000 with exact 32-bit wrap-around.
  return (Math.imul(n, 2654435761) >>> 0) % 10000 < opts.failureRatio * 10000;
}

const BIND_MODES = {
  bind_transmitter: { tx: true, rx: false },
  bind_receiver: { tx: false, rx: true },
  bind_transceiver: { tx: true, rx: true },
};

function onBind(session, pdu) {
  if (session.mode) {
    session.send(pdu.response({ command_status: E.ESME_RALYBND }));
    return;
  }
  if (pdu.system_id !== opts.systemId) {
    session.send(pdu.response({ command_status: E.ESME_RINVSYSID }));
    return;
  }
  if (pdu.password !== opts.password) {
    session.send(pdu.response({ command_status: E.ESME_RINVPASWD }));
    return;
  }
  session.mode = BIND_MODES[pdu.command];
  session.number = ++sessionCount;
  counters.binds += 1;
  counters.bind_total += 1;
  session.send(pdu.response({ system_id: 'nodesmsc' }));
  if (session.mode.rx) {
    bound.add(session);
    setImmediate(pump);
  }
}

function unbound(session) {
  if (!session.mode) return;
  session.mode = null;
  counters.binds -= 1;
  bound.delete(session);
  // Whatever was in flight on this session goes back to the queue at once.
  for (const item of Array.from(session.inflight)) item.settle(false);
}

function onSubmit(session, pdu) {
  if (!session.mode || !session.mode.tx) {
    counters.rejected += 1;
    session.send(pdu.response({ command_status: E.ESME_RINVBNDSTS }));
    return;
  }
  if (Date.now() < throttleUntil) {
    counters.throttled += 1;
    session.send(pdu.response({ command_status: E.ESME_RTHROTTLED }));
    return;
  }
  if (String(pdu.destination_addr).endsWith('9999')) {
    counters.rejected += 1;
    session.send(pdu.response({ command_status: E.ESME_RINVDSTADR }));
    return;
  }
  const n = nextId++;
  const id = n.toString(16);
  const failed = failsByHash(n);
  const stat = failed ? 'UNDELIV' : 'DELIVRD';
  const hasSar = pdu.sar_msg_ref_num !== undefined;
  const shortMessage = Buffer.isBuffer(pdu.short_message) ? pdu.short_message : Buffer.alloc(0);
  const payload = Buffer.isBuffer(pdu.message_payload) ? pdu.message_payload : Buffer.alloc(0);
  submits.push({
    id,
    source: pdu.source_addr,
    destination: pdu.destination_addr,
    esm_class: pdu.esm_class,
    data_coding: pdu.data_coding || 0,
    short_message: shortMessage.toString('hex'),
    payload: payload.toString('hex'),
    sar: hasSar ? [pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum] : null,
    stat,
    bind: session.number,
  });
  counters.submits += 1;
  // Decided now, answered after the response delay (the id is the arrival order).
  const delayMs = opts.responseDelayMs;
  const resp = pdu.response({ message_id: id });
  if (delayMs > 0) sendLater(session, resp, delayMs);
  else session.send(resp);
  if (pdu.registered_delivery & 1) {
    const now = new Date();
    const done = new Date(now.getTime() + delayMs + opts.receiptDelayMs);
    const text =
      `id:${n} sub:001 dlvrd:${failed ? '000' : '001'} submit date:${stamp(now)} ` +
      `done date:${stamp(done)} stat:${stat} err:${failed ? '001' : '000'} text:`;
    enqueue(
      'receipts',
      {
        source_addr_ton: pdu.dest_addr_ton,
        source_addr_npi: pdu.dest_addr_npi,
        source_addr: pdu.destination_addr,
        dest_addr_ton: pdu.source_addr_ton,
        dest_addr_npi: pdu.source_addr_npi,
        destination_addr: pdu.source_addr,
        esm_class: 0x04,
        data_coding: 0,
        short_message: Buffer.from(text, 'ascii'),
        receipted_message_id: id,
        message_state: failed ? 5 : 2,
      },
      delayMs + opts.receiptDelayMs, // never before the submit_sm_resp
    );
  }
}

// A held response goes once its delay is over, unless the connection is gone;
// a frozen session stays silent until the freeze ends.
function sendLater(session, pdu, delayMs) {
  setTimeout(() => {
    if (!session.socket.writable) return;
    const frozen = (session.frozenUntil || 0) - Date.now();
    if (frozen > 0) sendLater(session, pdu, frozen);
    else session.send(pdu);
  }, delayMs);
}

function onPdu(session, pdu) {
  switch (pdu.command) {
    case 'bind_transmitter':
    case 'bind_receiver':
    case 'bind_transceiver':
      onBind(session, pdu);
      return;
    case 'submit_sm':
      onSubmit(session, pdu);
      return;
    case 'enquire_link':
      session.send(pdu.response());
      return;
    case 'unbind':
      unbound(session);
      session.send(pdu.response(), () => session.close());
      return;
    default:
      break;
  }
  if (pdu.isResponse()) return; // deliver_sm_resp etc. are handled by callbacks
  if (pdu.command !== 'unknown' && smpp.commands[`${pdu.command}_resp`]) {
    session.send(pdu.response({ command_status: E.ESME_RINVCMDID }));
  } else {
    session.send(
      new smpp.PDU('generic_nack', {
        sequence_number: pdu.sequence_number,
        command_status: E.ESME_RINVCMDID,
      }),
    );
  }
}

const server = smpp.createServer((session) => {
  session.mode = null;
  session.inflight = new Set();
  session.socket.setNoDelay(true);
  session.on('pdu', (pdu) => onPdu(session, pdu));
  session.on('error', (err) => {
    log(`session error: ${err.message}`);
    session.destroy();
  });
  session.on('close', () => unbound(session));
});

// ---------------------------------------------------------------- control HTTP
function isAscii(text) {
  return /^[\x00-\x7f]*$/.test(text);
}

function encodeText(text) {
  if (isAscii(text)) return { dataCoding: 0, octets: Buffer.from(text, 'ascii') };
  return { dataCoding: 8, octets: Buffer.from(text, 'utf16le').swap16() };
}

function injectMo(body) {
  const source = String(body.source || '');
  const destination = String(body.destination || '');
  const text = String(body.text || '');
  const parts = Number(body.parts || 1);
  if (!source || !destination || (parts !== 1 && parts !== 2)) {
    throw new Error('need source, destination and parts 1 or 2');
  }
  const base = { source_addr: source, destination_addr: destination };
  if (parts === 1) {
    const { dataCoding, octets } = encodeText(text);
    const fields = { ...base, esm_class: 0, data_coding: dataCoding };
    if (octets.length <= 254) fields.short_message = octets;
    else fields.message_payload = octets;
    enqueue('mo', fields, 0);
    return;
  }
  const chars = Array.from(text); // code points: never split a surrogate pair
  const half = Math.ceil(chars.length / 2);
  const halves = [chars.slice(0, half).join(''), chars.slice(half).join('')];
  const { dataCoding } = encodeText(text);
  const ref = (moRef = (moRef + 1) & 0xff);
  const encoded = halves.map((h) =>
    dataCoding === 0 ? Buffer.from(h, 'ascii') : Buffer.from(h, 'utf16le').swap16(),
  );
  if (encoded.some((o) => o.length > 254 - 6)) throw new Error('text too long for 2 parts');
  const sar = body.split === 'sar';
  encoded.forEach((octets, i) => {
    const fields = sar
      ? {
          ...base,
          esm_class: 0,
          data_coding: dataCoding,
          short_message: octets,
          sar_msg_ref_num: ref,
          sar_total_segments: 2,
          sar_segment_seqnum: i + 1,
        }
      : {
          ...base,
          esm_class: 0x40,
          data_coding: dataCoding,
          short_message: Buffer.concat([Buffer.from([0x05, 0x00, 0x03, ref, 0x02, i + 1]), octets]),
        };
    enqueue('mo', fields, 0);
  });
}

function reply(res, code, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const control = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body = {};
    try {
      const raw = Buffer.concat(chunks).toString('utf8');
      if (raw) body = JSON.parse(raw);
    } catch (err) {
      reply(res, 400, { error: `bad JSON: ${err.message}` });
      return;
    }
    const route = `${req.method} ${req.url.split('?')[0]}`;
    try {
      switch (route) {
        case 'GET /counters':
          reply(res, 200, counters);
          return;
        case 'GET /submits':
          reply(res, 200, submits);
          return;
        case 'POST /mo':
          injectMo(body);
          reply(res, 200, { ok: true });
          return;
        case 'POST /delay': {
          const seconds = Number(body.seconds);
          if (!(seconds >= 0 && seconds <= 60)) throw new Error('seconds: 0 to 60');
          opts.responseDelayMs = seconds * 1000;
          reply(res, 200, { ok: true });
          return;
        }
        case 'POST /throttle':
          throttleUntil = Date.now() + Number(body.seconds || 0) * 1000;
          reply(res, 200, { ok: true });
          return;
        case 'POST /freeze': {
          // Go silent on the open connections: read and send nothing meanwhile.
          const until = Date.now() + Number(body.seconds || 0) * 1000;
          const sessions = server.sessions.slice();
          for (const s of sessions) {
            s.frozenUntil = until;
            s.pause(); // node-smpp's own: its reader stops taking PDUs off the socket
            setTimeout(() => s.resume(), until - Date.now());
          }
          reply(res, 200, { ok: true, frozen: sessions.length });
          return;
        }
        case 'POST /drop': {
          const sessions = server.sessions.slice();
          for (const s of sessions) s.socket.destroy();
          reply(res, 200, { ok: true, dropped: sessions.length });
          return;
        }
        default:
          reply(res, 404, { error: `no route ${route}` });
      }
    } catch (err) {
      reply(res, 400, { error: err.message });
    }
  });
});

// ---------------------------------------------------------------- start
let listening = 0;
function onListening() {
  listening += 1;
  if (listening === 2) process.stdout.write('ready\n');
}
for (const srv of [server, control]) {
  srv.on('error', (err) => {
    log(`listen error: ${err.message}`);
    process.exit(1);
  });
}
server.listen(opts.port, HOST, onListening);
control.listen(opts.controlPort, HOST, onListening);

process.on('uncaughtException', (err) => log(`uncaught: ${err.stack || err}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
