// HPACK (RFC 7541) for HBONE's few header blocks: a full decoder (static and dynamic table, Huffman, size updates)
// because peers choose their own encoding, and a stateless encoder — literals never added to the dynamic table and
// strings sent raw — which every decoder must accept and which keeps both ends' tables trivially in sync.
import { huffmanDecode } from './huffman.js';

/** The static table (RFC 7541 Appendix A), index 1…61. */
const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];

/** Name → first static index with that name; "name\0value" → index of the exact pair. */
const STATIC_NAME = new Map<string, number>();
const STATIC_PAIR = new Map<string, number>();
STATIC_TABLE.forEach(([name, value], i) => {
  if (!STATIC_NAME.has(name)) STATIC_NAME.set(name, i + 1);
  STATIC_PAIR.set(`${name}\0${value}`, i + 1);
});

/** RFC 7541 §4.1: an entry's size is its name and value lengths plus 32. */
const ENTRY_OVERHEAD = 32;
/** SETTINGS_HEADER_TABLE_SIZE's default; Ambit never advertises another value, so it is the decoder's limit. */
export const HEADER_TABLE_SIZE = 4096;

export type HeaderList = [name: string, value: string][];

export class HpackError extends Error {}

/** Decodes header blocks of one connection (the dynamic table lives as long as the connection). */
export class HpackDecoder {
  /** Newest first. */
  readonly #table: [string, string][] = [];
  #size = 0;
  #maxSize = HEADER_TABLE_SIZE;
  readonly #maxListBytes: number;

  constructor(maxHeaderListBytes: number) {
    this.#maxListBytes = maxHeaderListBytes;
  }

  /** Decodes one complete header block. Throws HpackError (a connection COMPRESSION_ERROR) on any malformation. */
  decode(block: Buffer): HeaderList {
    const out: HeaderList = [];
    const cursor = { at: 0 };
    let listBytes = 0;
    let sawField = false;
    while (cursor.at < block.length) {
      const b = block[cursor.at];
      let entry: [string, string];
      if (b & 0x80) {
        const index = readInteger(block, cursor, 7);
        if (index === 0) throw new HpackError('indexed field with index 0');
        entry = this.#lookup(index);
      } else if (b & 0x40) {
        entry = this.#literal(block, cursor, 6);
        this.#insert(entry);
      } else if (b & 0x20) {
        if (sawField) throw new HpackError('dynamic table size update after a header field');
        const size = readInteger(block, cursor, 5);
        if (size > HEADER_TABLE_SIZE) throw new HpackError(`dynamic table size update to ${size} exceeds ${HEADER_TABLE_SIZE}`);
        this.#maxSize = size;
        this.#evict(0);
        continue;
      } else {
        // Literal without indexing (0000) or never indexed (0001): same layout, 4-bit name index.
        entry = this.#literal(block, cursor, 4);
      }
      sawField = true;
      listBytes += entry[0].length + entry[1].length + ENTRY_OVERHEAD;
      if (listBytes > this.#maxListBytes) throw new HpackError(`header list larger than ${this.#maxListBytes} bytes`);
      out.push(entry);
    }
    return out;
  }

  #lookup(index: number): [string, string] {
    if (index <= STATIC_TABLE.length) {
      const [n, v] = STATIC_TABLE[index - 1];
      return [n, v];
    }
    const entry = this.#table[index - STATIC_TABLE.length - 1];
    if (!entry) throw new HpackError(`index ${index} is beyond the dynamic table`);
    return [entry[0], entry[1]];
  }

  #literal(block: Buffer, cursor: { at: number }, prefixBits: number): [string, string] {
    const nameIndex = readInteger(block, cursor, prefixBits);
    const name = nameIndex === 0 ? readString(block, cursor) : this.#lookup(nameIndex)[0];
    return [name, readString(block, cursor)];
  }

  #insert(entry: [string, string]): void {
    const size = entry[0].length + entry[1].length + ENTRY_OVERHEAD;
    this.#evict(size);
    // An entry larger than the table empties it and is not added (RFC 7541 §4.4).
    if (size > this.#maxSize) return;
    this.#table.unshift(entry);
    this.#size += size;
  }

  /** Evicts the oldest entries until `incoming` more bytes fit. */
  #evict(incoming: number): void {
    while (this.#table.length && this.#size + incoming > this.#maxSize) {
      const [n, v] = this.#table.pop()!;
      this.#size -= n.length + v.length + ENTRY_OVERHEAD;
    }
  }
}

function readInteger(block: Buffer, cursor: { at: number }, prefixBits: number): number {
  const max = (1 << prefixBits) - 1;
  let value = block[cursor.at++] & max;
  if (value < max) return value;
  for (let shift = 0; ; shift += 7) {
    if (cursor.at >= block.length) throw new HpackError('truncated integer');
    if (shift > 21) throw new HpackError('integer too large');
    const b = block[cursor.at++];
    value += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) return value;
  }
}

function readString(block: Buffer, cursor: { at: number }): string {
  if (cursor.at >= block.length) throw new HpackError('truncated string');
  const huffman = (block[cursor.at] & 0x80) !== 0;
  const length = readInteger(block, cursor, 7);
  if (cursor.at + length > block.length) throw new HpackError('string runs past the header block');
  const raw = block.subarray(cursor.at, cursor.at + length);
  cursor.at += length;
  if (!huffman) return raw.toString('latin1');
  try {
    return huffmanDecode(raw).toString('latin1');
  } catch (err) {
    throw new HpackError((err as Error).message);
  }
}

function pushInteger(out: number[], value: number, prefixBits: number, firstByteFlags: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(firstByteFlags | value);
    return;
  }
  out.push(firstByteFlags | max);
  let rest = value - max;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

function pushString(out: number[], s: string): void {
  pushInteger(out, s.length, 7, 0);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i) & 0xff);
}

/**
 * Encodes a header list: exact static matches as indexed fields, everything else as literals without indexing
 * (static name index when there is one). `tableSizeUpdate` starts the block with a dynamic table size update of 0,
 * owed once after the peer lowers SETTINGS_HEADER_TABLE_SIZE.
 */
export function encodeHeaders(headers: HeaderList, tableSizeUpdate = false): Buffer {
  const out: number[] = [];
  if (tableSizeUpdate) out.push(0x20);
  for (const [name, value] of headers) {
    const exact = STATIC_PAIR.get(`${name}\0${value}`);
    if (exact !== undefined) {
      pushInteger(out, exact, 7, 0x80);
      continue;
    }
    const nameIndex = STATIC_NAME.get(name);
    if (nameIndex !== undefined) pushInteger(out, nameIndex, 4, 0x00);
    else {
      out.push(0x00);
      pushString(out, name);
    }
    pushString(out, value);
  }
  return Buffer.from(out);
}
