// DNS wire codec (RFC 1035 §4): a strict parser and a serializer for the header, questions and resource records
// (A, AAAA and CNAME decoded; every other type kept as raw rdata), with name compression on read and on write.
//
// Names are carried in presentation form without the trailing dot ("echo.mesh.svc.cluster.local", "" = the root);
// label bytes outside letters, digits, '-', '_' and '*' (and any '.' or '\' inside a label) are written `\DDD`, so
// every wire name survives parse → serialize unchanged. Malformed input raises DnsFormatError — never anything else.
import { isIPv4, isIPv6 } from 'node:net';
import { MeshError } from '../errors.js';

export const DNS_HEADER_BYTES = 12;
/** The classic UDP payload limit without EDNS (RFC 1035 §4.2.1). */
const DNS_UDP_DEFAULT_LIMIT = 512;
const MAX_NAME_WIRE_BYTES = 255;
const MAX_LABEL_BYTES = 63;
/** A name may follow at most this many compression pointers (a loop guard beyond the "backwards only" rule). */
const MAX_POINTERS = 64;

export const RecordType = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, ANY: 255 } as const;
export const RecordClass = { IN: 1 } as const;
export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export const Opcode = { QUERY: 0 } as const;

export class DnsFormatError extends MeshError {
  constructor(message: string) {
    super('DNS_FORMAT', `malformed DNS message: ${message}`);
  }
}

interface DnsFlags {
  /** true = response. */
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  /** The Z bit (must be zero; kept so a parse/serialize round trip is exact). */
  z: boolean;
  ad: boolean;
  cd: boolean;
  rcode: number;
}

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

type RecordData =
  | { kind: 'a'; address: string }
  | { kind: 'aaaa'; address: string }
  | { kind: 'cname'; target: string }
  | { kind: 'raw'; bytes: Buffer };

export interface DnsRecord {
  name: string;
  type: number;
  /** For OPT (EDNS) this is the requester's UDP payload size. */
  class: number;
  /** Seconds (for OPT: the extended rcode/flags word). */
  ttl: number;
  data: RecordData;
}

export interface DnsMessage {
  id: number;
  flags: DnsFlags;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

export function emptyFlags(overrides: Partial<DnsFlags> = {}): DnsFlags {
  return { qr: false, opcode: 0, aa: false, tc: false, rd: false, ra: false, z: false, ad: false, cd: false, rcode: 0, ...overrides };
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing

class Reader {
  offset = 0;
  constructor(readonly buf: Buffer) {}

  need(n: number, what: string): void {
    if (this.offset + n > this.buf.length) throw new DnsFormatError(`${what} runs past the end (offset ${this.offset}, need ${n}, have ${this.buf.length - this.offset})`);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.offset++]!;
  }

  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const b = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }
}

function isPlainLabelByte(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f || c === 0x2a;
}

function labelText(bytes: Buffer): string {
  let out = '';
  for (const c of bytes) out += isPlainLabelByte(c) ? String.fromCharCode(c) : `\\${String(c).padStart(3, '0')}`;
  return out;
}

/**
 * Reads a (possibly compressed) name at the reader's position. Pointers must point strictly backwards (before the
 * pointer itself), which with the pointer limit rules out loops; the expanded name must fit 255 wire bytes.
 */
function readName(r: Reader, what: string): string {
  const labels: string[] = [];
  let wireLength = 1; // the root label
  let pos = r.offset;
  let jumped = false;
  let pointers = 0;
  for (;;) {
    if (pos >= r.buf.length) throw new DnsFormatError(`${what}: name runs past the end`);
    const len = r.buf[pos]!;
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= r.buf.length) throw new DnsFormatError(`${what}: compression pointer runs past the end`);
      const target = ((len & 0x3f) << 8) | r.buf[pos + 1]!;
      if (target >= pos) throw new DnsFormatError(`${what}: compression pointer at ${pos} does not point backwards (to ${target})`);
      if (++pointers > MAX_POINTERS) throw new DnsFormatError(`${what}: too many compression pointers`);
      if (!jumped) r.offset = pos + 2;
      jumped = true;
      pos = target;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new DnsFormatError(`${what}: unsupported label type 0x${(len & 0xc0).toString(16)}`);
    if (len === 0) {
      if (!jumped) r.offset = pos + 1;
      return labels.join('.');
    }
    if (pos + 1 + len > r.buf.length) throw new DnsFormatError(`${what}: label runs past the end`);
    wireLength += 1 + len;
    if (wireLength > MAX_NAME_WIRE_BYTES) throw new DnsFormatError(`${what}: name longer than ${MAX_NAME_WIRE_BYTES} bytes`);
    labels.push(labelText(r.buf.subarray(pos + 1, pos + 1 + len)));
    pos += 1 + len;
  }
}

function readQuestion(r: Reader, index: number): DnsQuestion {
  const what = `question ${index}`;
  const name = readName(r, what);
  return { name, type: r.u16(`${what} type`), class: r.u16(`${what} class`) };
}

function ipv4Text(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

function ipv6Text(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // Canonical form (RFC 5952): the longest run (≥2) of zero groups becomes "::".
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLen).join(':')}`;
}

function readRecord(r: Reader, what: string): DnsRecord {
  const name = readName(r, what);
  const type = r.u16(`${what} type`);
  const klass = r.u16(`${what} class`);
  const ttl = r.u32(`${what} ttl`);
  const rdlength = r.u16(`${what} rdlength`);
  r.need(rdlength, `${what} rdata`);
  const end = r.offset + rdlength;
  let data: RecordData;
  if (type === RecordType.A && klass === RecordClass.IN) {
    if (rdlength !== 4) throw new DnsFormatError(`${what}: A rdata is ${rdlength} bytes, not 4`);
    data = { kind: 'a', address: ipv4Text(r.bytes(4, what)) };
  } else if (type === RecordType.AAAA && klass === RecordClass.IN) {
    if (rdlength !== 16) throw new DnsFormatError(`${what}: AAAA rdata is ${rdlength} bytes, not 16`);
    data = { kind: 'aaaa', address: ipv6Text(r.bytes(16, what)) };
  } else if (type === RecordType.CNAME) {
    data = { kind: 'cname', target: readName(r, `${what} CNAME target`) };
    if (r.offset !== end) throw new DnsFormatError(`${what}: CNAME target does not fill its rdata`);
  } else {
    // Copied: the record must not keep the whole packet alive.
    data = { kind: 'raw', bytes: Buffer.from(r.bytes(rdlength, what)) };
  }
  return { name, type, class: klass, ttl, data };
}

/** Parses one complete message; throws DnsFormatError on anything malformed (including trailing bytes). */
export function parseDnsMessage(buf: Buffer): DnsMessage {
  if (buf.length < DNS_HEADER_BYTES) throw new DnsFormatError(`${buf.length} bytes is shorter than the ${DNS_HEADER_BYTES}-byte header`);
  const r = new Reader(buf);
  const id = r.u16('id');
  const bits = r.u16('flags');
  const flags: DnsFlags = {
    qr: (bits & 0x8000) !== 0,
    opcode: (bits >> 11) & 0xf,
    aa: (bits & 0x0400) !== 0,
    tc: (bits & 0x0200) !== 0,
    rd: (bits & 0x0100) !== 0,
    ra: (bits & 0x0080) !== 0,
    z: (bits & 0x0040) !== 0,
    ad: (bits & 0x0020) !== 0,
    cd: (bits & 0x0010) !== 0,
    rcode: bits & 0xf,
  };
  const counts = [r.u16('qdcount'), r.u16('ancount'), r.u16('nscount'), r.u16('arcount')] as const;
  // Each question needs ≥5 bytes and each record ≥11: counts that cannot fit are refused before any allocation.
  if (counts[0] * 5 + (counts[1] + counts[2] + counts[3]) * 11 > buf.length - DNS_HEADER_BYTES) {
    throw new DnsFormatError(`section counts (${counts.join('/')}) do not fit in ${buf.length} bytes`);
  }
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < counts[0]; i++) questions.push(readQuestion(r, i));
  const section = (n: number, label: string): DnsRecord[] => {
    const out: DnsRecord[] = [];
    for (let i = 0; i < n; i++) out.push(readRecord(r, `${label} record ${i}`));
    return out;
  };
  const answers = section(counts[1], 'answer');
  const authorities = section(counts[2], 'authority');
  const additionals = section(counts[3], 'additional');
  if (r.offset !== buf.length) throw new DnsFormatError(`${buf.length - r.offset} trailing bytes after the last section`);
  return { id, flags, questions, answers, authorities, additionals };
}

// ---------------------------------------------------------------------------------------------------------------
// Serializing

/** Splits a presentation-form name into wire labels (undoing `\DDD` and `\c` escapes). */
export function nameToLabels(name: string): Buffer[] {
  if (name === '' || name === '.') return [];
  const text = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  const labels: Buffer[] = [];
  let cur: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x2e /* . */) {
      labels.push(Buffer.from(cur));
      cur = [];
    } else if (ch === 0x5c /* \ */) {
      const digits = text.slice(i + 1, i + 4);
      if (/^[0-9]{3}$/.test(digits) && Number(digits) <= 255) {
        cur.push(Number(digits));
        i += 3;
      } else if (i + 1 < text.length) {
        cur.push(text.charCodeAt(++i) & 0xff);
      } else {
        throw new DnsFormatError(`name ${JSON.stringify(name)}: dangling escape`);
      }
    } else {
      if (ch > 0xff) throw new DnsFormatError(`name ${JSON.stringify(name)}: character outside Latin-1`);
      cur.push(ch);
    }
  }
  labels.push(Buffer.from(cur));
  let wire = 1;
  for (const l of labels) {
    if (l.length === 0) throw new DnsFormatError(`name ${JSON.stringify(name)}: empty label`);
    if (l.length > MAX_LABEL_BYTES) throw new DnsFormatError(`name ${JSON.stringify(name)}: label longer than ${MAX_LABEL_BYTES} bytes`);
    wire += 1 + l.length;
  }
  if (wire > MAX_NAME_WIRE_BYTES) throw new DnsFormatError(`name ${JSON.stringify(name)}: longer than ${MAX_NAME_WIRE_BYTES} bytes`);
  return labels;
}

class Writer {
  readonly chunks: Buffer[] = [];
  length = 0;
  /**
   * Name suffix (exact bytes: compressing case-insensitively would change the case a later name is read back
   * with) → offset where it was written; compression targets must lie below 0x4000.
   */
  readonly #suffixes = new Map<string, number>();

  push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }

  u16(v: number): void {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v & 0xffff);
    this.push(b);
  }

  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    this.push(b);
  }

  name(name: string): void {
    const labels = nameToLabels(name);
    for (let i = 0; i < labels.length; i++) {
      const key = labels.slice(i).map((l) => l.toString('hex')).join('.');
      const at = this.#suffixes.get(key);
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.length < 0x4000) this.#suffixes.set(key, this.length);
      this.push(Buffer.from([labels[i]!.length]));
      this.push(labels[i]!);
    }
    this.push(Buffer.from([0]));
  }

  concat(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

function flagBits(f: DnsFlags): number {
  if (!Number.isInteger(f.opcode) || f.opcode < 0 || f.opcode > 15) throw new DnsFormatError(`opcode ${f.opcode} is not 0-15`);
  if (!Number.isInteger(f.rcode) || f.rcode < 0 || f.rcode > 15) throw new DnsFormatError(`rcode ${f.rcode} is not 0-15`);
  return (f.qr ? 0x8000 : 0) | (f.opcode << 11) | (f.aa ? 0x0400 : 0) | (f.tc ? 0x0200 : 0) | (f.rd ? 0x0100 : 0)
    | (f.ra ? 0x0080 : 0) | (f.z ? 0x0040 : 0) | (f.ad ? 0x0020 : 0) | (f.cd ? 0x0010 : 0) | f.rcode;
}

function rdata(rec: DnsRecord, w: Writer): void {
  const d = rec.data;
  let body: Buffer;
  if (d.kind === 'a') {
    if (!isIPv4(d.address)) throw new DnsFormatError(`A record ${rec.name}: ${JSON.stringify(d.address)} is not an IPv4 address`);
    body = Buffer.from(d.address.split('.').map(Number));
  } else if (d.kind === 'aaaa') {
    if (!isIPv6(d.address)) throw new DnsFormatError(`AAAA record ${rec.name}: ${JSON.stringify(d.address)} is not an IPv6 address`);
    body = ipv6Bytes(d.address);
  } else if (d.kind === 'cname') {
    // Compressed like any other name: the length is only known after writing, so it is patched in.
    const lengthAt = w.chunks.length;
    w.u16(0);
    const before = w.length;
    w.name(d.target);
    w.chunks[lengthAt]!.writeUInt16BE(w.length - before);
    return;
  } else {
    body = d.bytes;
  }
  if (body.length > 0xffff) throw new DnsFormatError(`record ${rec.name}: rdata longer than 65535 bytes`);
  w.u16(body.length);
  w.push(body);
}

/** 16 bytes of a textual IPv6 address (already validated by isIPv6; may end in dotted IPv4). */
function ipv6Bytes(text: string): Buffer {
  let t = text;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(t);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    t = `${t.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = t.split('::');
  const groups = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const words = halves.length === 2 ? [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
  const out = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) out.writeUInt16BE(words[i] ?? 0, i * 2);
  return out;
}

function writeRecord(rec: DnsRecord, w: Writer): void {
  w.name(rec.name);
  w.u16(rec.type);
  w.u16(rec.class);
  w.u32(rec.ttl);
  rdata(rec, w);
}

/**
 * Serializes `msg`. With `maxBytes` (a UDP limit), answer/authority/additional records that do not fit are
 * dropped from the end and TC is set when an answer or authority record had to go (RFC 2181 §9); OPT stays if it fits.
 */
export function serializeDnsMessage(msg: DnsMessage, opts: { maxBytes?: number } = {}): Buffer {
  const full = encode(msg);
  if (opts.maxBytes === undefined || full.length <= opts.maxBytes) return full;
  const limit = Math.max(opts.maxBytes, DNS_HEADER_BYTES);
  // Keep the longest prefix of answers-then-authorities that fits (binary search: encoding is linear, so a large
  // headless answer costs O(n log n), not O(n²)); the OPT record goes last of all.
  const records = [...msg.answers, ...msg.authorities];
  const opt = msg.additionals.filter((r) => r.type === RecordType.OPT);
  const build = (n: number, withOpt: boolean): Buffer => encode({
    ...msg,
    flags: { ...msg.flags, tc: msg.flags.tc || n < records.length },
    answers: records.slice(0, Math.min(n, msg.answers.length)),
    authorities: records.slice(msg.answers.length, Math.max(n, msg.answers.length)),
    additionals: withOpt ? opt : [],
  });
  let lo = 0;
  let hi = records.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (build(mid, true).length <= limit) lo = mid;
    else hi = mid - 1;
  }
  const best = build(lo, true);
  if (best.length <= limit || opt.length === 0) return best; // header + question alone may exceed: nothing left to drop
  return build(lo, false);
}

function encode(msg: DnsMessage): Buffer {
  const w = new Writer();
  w.u16(msg.id);
  w.u16(flagBits(msg.flags));
  for (const n of [msg.questions.length, msg.answers.length, msg.authorities.length, msg.additionals.length]) {
    if (n > 0xffff) throw new DnsFormatError(`a section has ${n} entries (more than 65535)`);
    w.u16(n);
  }
  for (const q of msg.questions) {
    w.name(q.name);
    w.u16(q.type);
    w.u16(q.class);
  }
  for (const rec of msg.answers) writeRecord(rec, w);
  for (const rec of msg.authorities) writeRecord(rec, w);
  for (const rec of msg.additionals) writeRecord(rec, w);
  return w.concat();
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers for the proxy

/** The lower-case name of a DNS type for metrics (`a`, `aaaa`, …; unknown types as `type123`). */
export function queryTypeName(type: number): string {
  for (const [name, value] of Object.entries(RecordType)) if (value === type) return name.toLowerCase();
  return `type${type}`;
}

/** The requester's UDP payload limit: its EDNS OPT size (at least 512), else 512. */
export function udpPayloadLimit(query: DnsMessage): number {
  const opt = query.additionals.find((r) => r.type === RecordType.OPT);
  return opt ? Math.max(DNS_UDP_DEFAULT_LIMIT, opt.class) : DNS_UDP_DEFAULT_LIMIT;
}

/** A response skeleton to `query`: same id, opcode, RD and CD, its question echoed. */
export function responseTo(query: DnsMessage, rcode: number, answers: DnsRecord[] = []): DnsMessage {
  return {
    id: query.id,
    flags: emptyFlags({ qr: true, opcode: query.flags.opcode, rd: query.flags.rd, ra: true, cd: query.flags.cd, rcode }),
    questions: query.questions.map((q) => ({ ...q })),
    answers,
    authorities: [],
    additionals: [],
  };
}

/**
 * What to send back for bytes that did not parse: a FORMERR header carrying the request's id and opcode, or
 * undefined (drop) when there is no complete header or the packet claims to be a response (never answer those:
 * it would let two resolvers bounce errors at each other).
 */
export function formErrFor(buf: Buffer): Buffer | undefined {
  if (buf.length < DNS_HEADER_BYTES) return undefined;
  const bits = buf.readUInt16BE(2);
  if (bits & 0x8000) return undefined;
  const out = Buffer.alloc(DNS_HEADER_BYTES);
  out.writeUInt16BE(buf.readUInt16BE(0), 0);
  out.writeUInt16BE(0x8000 | (bits & 0x7800) | (bits & 0x0100) | Rcode.FORMERR, 2);
  return out;
}
