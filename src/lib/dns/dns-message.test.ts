// Unit: the DNS wire codec — a hand-built query decodes field by field, messages round-trip (compression on write
// shrinks them), compressed names decode, malformed packets (loops, forward pointers, truncation, bad label types,
// trailing bytes, impossible counts) are refused with DnsFormatError, UDP truncation sets TC, and random or mutated
// bytes never make the parser throw anything but DnsFormatError nor make the FORMERR helper throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  DnsFormatError, Rcode, RecordClass, RecordType, emptyFlags, formErrFor, nameToLabels, parseDnsMessage, queryTypeName,
  responseTo, serializeDnsMessage, udpPayloadLimit, type DnsMessage,
} from './dns-message.js';

/** A query for `name`/`type` as a stub resolver would send it (RD set, one question). */
function queryBytes(id: number, name: string, type: number): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const header = Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, ...labels, Buffer.from([0, type >> 8, type & 0xff, 0, 1])]);
}

test('a hand-built query decodes field by field', () => {
  const m = parseDnsMessage(queryBytes(0xbeef, 'echo.mesh.svc.cluster.local', RecordType.A));
  assert.equal(m.id, 0xbeef);
  assert.equal(m.flags.qr, false);
  assert.equal(m.flags.rd, true);
  assert.equal(m.flags.opcode, 0);
  assert.deepEqual(m.questions, [{ name: 'echo.mesh.svc.cluster.local', type: RecordType.A, class: RecordClass.IN }]);
  assert.deepEqual([m.answers, m.authorities, m.additionals], [[], [], []]);
});

test('a response with A, AAAA, CNAME, raw and OPT records round-trips; compression on write shrinks it', () => {
  const msg: DnsMessage = {
    id: 7,
    flags: emptyFlags({ qr: true, rd: true, ra: true, aa: true, rcode: Rcode.NOERROR }),
    questions: [{ name: 'Web.Example.com', type: RecordType.A, class: RecordClass.IN }],
    answers: [
      { name: 'Web.Example.com', type: RecordType.CNAME, class: 1, ttl: 30, data: { kind: 'cname', target: 'www.example.com' } },
      { name: 'www.example.com', type: RecordType.A, class: 1, ttl: 30, data: { kind: 'a', address: '10.96.0.1' } },
      { name: 'www.example.com', type: RecordType.AAAA, class: 1, ttl: 30, data: { kind: 'aaaa', address: 'fd00::1:2' } },
      { name: 'www.example.com', type: RecordType.AAAA, class: 1, ttl: 30, data: { kind: 'aaaa', address: '::ffff:10.0.0.1' } },
      { name: 'www.example.com', type: RecordType.TXT, class: 1, ttl: 5, data: { kind: 'raw', bytes: Buffer.from('\u0003abc') } },
    ],
    authorities: [],
    additionals: [{ name: '', type: RecordType.OPT, class: 1232, ttl: 0, data: { kind: 'raw', bytes: Buffer.alloc(0) } }],
  };
  const bytes = serializeDnsMessage(msg);
  const back = parseDnsMessage(bytes);
  assert.equal(back.answers[3]!.data.kind, 'aaaa');
  assert.deepEqual((back.answers[3]!.data as { address: string }).address, '::ffff:a00:1', 'mapped addresses come back canonical');
  back.answers[3] = msg.answers[3]!;
  assert.deepEqual(back, msg);
  assert.equal(udpPayloadLimit(back), 1232);
  // Uncompressed, each record would repeat "www.example.com" (17 bytes) instead of a 2-byte pointer.
  assert.ok(bytes.length < 12 + 21 + 5 * (17 + 10) + 11, `compressed size ${bytes.length}`);
});

test('names with unusual bytes survive parse → serialize exactly (\\DDD escapes)', () => {
  const raw = Buffer.concat([
    Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
    Buffer.from([3, 0x61, 0x2e, 0x00, 2, 0x5c, 0xff, 0]), // "a.\0" and "\\\xff"
    Buffer.from([0, 1, 0, 1]),
  ]);
  const m = parseDnsMessage(raw);
  assert.equal(m.questions[0]!.name, 'a\\046\\000.\\092\\255');
  assert.deepEqual(serializeDnsMessage(m), raw);
  assert.deepEqual(nameToLabels('a\\.b.c').map((b) => b.toString()), ['a.b', 'c']);
});

test('compressed names decode; pointers that loop, point forward or run off the end are refused', () => {
  // Question "a.example.com", answer name = pointer to offset 12 ("a.example.com"), CNAME target "b" + pointer to "example.com".
  const header = Buffer.from([0, 9, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
  const qname = Buffer.from([1, 0x61, 7, ...Buffer.from('example'), 3, ...Buffer.from('com'), 0]);
  const q = Buffer.concat([qname, Buffer.from([0, 5, 0, 1])]);
  const rdata = Buffer.from([1, 0x62, 0xc0, 14]);
  const answer = Buffer.concat([Buffer.from([0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 30, 0, rdata.length]), rdata]);
  const m = parseDnsMessage(Buffer.concat([header, q, answer]));
  assert.equal(m.answers[0]!.name, 'a.example.com');
  assert.deepEqual(m.answers[0]!.data, { kind: 'cname', target: 'b.example.com' });

  const selfLoop = Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
  assert.throws(() => parseDnsMessage(selfLoop), /does not point backwards/);
  const forward = Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([0xc0, 20, 0, 1, 0, 1, 0, 0])]);
  assert.throws(() => parseDnsMessage(forward), DnsFormatError);
  const badLabelType = Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([0x41, 0, 0, 1, 0, 1])]);
  assert.throws(() => parseDnsMessage(badLabelType), /unsupported label type/);
});

test('truncated, oversized and inconsistent packets are refused with a reason', () => {
  const ok = queryBytes(1, 'echo', RecordType.A);
  assert.throws(() => parseDnsMessage(ok.subarray(0, 5)), /shorter than the 12-byte header/);
  assert.throws(() => parseDnsMessage(ok.subarray(0, ok.length - 1)), /runs past the end/);
  assert.throws(() => parseDnsMessage(Buffer.concat([ok, Buffer.from([0])])), /trailing bytes/);
  const counts = Buffer.from(ok);
  counts.writeUInt16BE(0xffff, 6); // 65535 answers in a 22-byte packet
  assert.throws(() => parseDnsMessage(counts), /do not fit/);
  const long = Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...Array.from({ length: 5 }, () => Buffer.from([63, ...Buffer.alloc(63, 0x61)])), Buffer.from([0, 0, 1, 0, 1])]);
  assert.throws(() => parseDnsMessage(long), /longer than 255/);
  const badA = Buffer.concat([Buffer.from([0, 1, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0]), Buffer.from([0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 3, 1, 2, 3])]);
  assert.throws(() => parseDnsMessage(badA), /A rdata is 3 bytes/);
  assert.throws(() => nameToLabels(`${'a'.repeat(64)}.com`), /label longer than 63/);
  assert.throws(() => nameToLabels('a..b'), /empty label/);
});

test('UDP truncation drops whole records from the end and sets TC; the question always stays', () => {
  const q = parseDnsMessage(queryBytes(3, 'big.mesh.svc.cluster.local', RecordType.A));
  const answers = Array.from({ length: 100 }, (_, i) => ({
    name: 'big.mesh.svc.cluster.local', type: RecordType.A, class: 1, ttl: 30, data: { kind: 'a' as const, address: `10.0.${i >> 8}.${i & 0xff}` },
  }));
  const full = serializeDnsMessage(responseTo(q, Rcode.NOERROR, answers));
  assert.ok(full.length > 512);
  const cut = serializeDnsMessage(responseTo(q, Rcode.NOERROR, answers), { maxBytes: 512 });
  assert.ok(cut.length <= 512);
  const m = parseDnsMessage(cut);
  assert.equal(m.flags.tc, true);
  assert.equal(m.questions.length, 1);
  assert.ok(m.answers.length > 0 && m.answers.length < 100, `${m.answers.length} answers kept`);
  assert.equal(parseDnsMessage(serializeDnsMessage(responseTo(q, Rcode.NOERROR, answers.slice(0, 2)), { maxBytes: 512 })).flags.tc, false);
});

test('FORMERR helper: answers a broken query with its id and opcode, drops headerless bytes and responses', () => {
  const broken = Buffer.concat([queryBytes(0x1234, 'x', RecordType.A), Buffer.from([1, 2, 3])]);
  const reply = formErrFor(broken)!;
  const m = parseDnsMessage(reply);
  assert.equal(m.id, 0x1234);
  assert.equal(m.flags.qr, true);
  assert.equal(m.flags.rcode, Rcode.FORMERR);
  assert.equal(m.flags.rd, true);
  assert.equal(formErrFor(Buffer.from([1, 2, 3])), undefined);
  const response = Buffer.from(broken);
  response[2] = response[2]! | 0x80;
  assert.equal(formErrFor(response), undefined);
  assert.equal(queryTypeName(RecordType.AAAA), 'aaaa');
  assert.equal(queryTypeName(64), 'type64');
});

test('fuzz: 20,000 random and mutated packets never throw past the codec edge', () => {
  const seeds = [
    queryBytes(1, 'echo.mesh.svc.cluster.local', RecordType.A),
    serializeDnsMessage(responseTo(parseDnsMessage(queryBytes(2, 'a.b.c', RecordType.AAAA)), 0, [
      { name: 'a.b.c', type: RecordType.CNAME, class: 1, ttl: 1, data: { kind: 'cname', target: 'd.b.c' } },
      { name: 'd.b.c', type: RecordType.AAAA, class: 1, ttl: 1, data: { kind: 'aaaa', address: '::1' } },
    ])),
  ];
  let parsed = 0;
  let refused = 0;
  const deadline = Date.now() + 20_000;
  for (let i = 0; i < 20_000 && Date.now() < deadline; i++) {
    let buf: Buffer;
    if (i % 2 === 0) {
      buf = randomBytes(Math.floor(Math.random() * 80));
    } else {
      buf = Buffer.from(seeds[i % seeds.length]!);
      const flips = 1 + Math.floor(Math.random() * 4);
      for (let f = 0; f < flips; f++) buf[Math.floor(Math.random() * buf.length)] = Math.floor(Math.random() * 256);
      if (Math.random() < 0.2) buf = buf.subarray(0, Math.floor(Math.random() * buf.length));
    }
    try {
      const m = parseDnsMessage(buf);
      parsed++;
      // Whatever parses must serialize again and parse to the same thing.
      assert.deepEqual(parseDnsMessage(serializeDnsMessage(m)), m);
    } catch (err) {
      if (!(err instanceof DnsFormatError)) throw new Error(`unexpected ${String(err)} for ${buf.toString('hex')}`);
      refused++;
      const reply = formErrFor(buf);
      if (reply) assert.equal(parseDnsMessage(reply).flags.rcode, Rcode.FORMERR);
    }
  }
  assert.ok(parsed > 0 && refused > 0, `parsed ${parsed}, refused ${refused}`);
});
