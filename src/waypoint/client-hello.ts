// Reads the server name (SNI) from a TLS ClientHello before any TLS is spoken, so the ingress gateway can pick the
// listener — and refuse an unknown name with the `unrecognized_name` alert (RFC 6066), which Node's own SNI hook
// cannot send. Only the first record is read: a ClientHello split over several records is treated as having no SNI.

/** What the first bytes of a connection say: more bytes needed, not a TLS ClientHello, or the hello's server name. */
type HelloResult = { kind: 'incomplete' } | { kind: 'not-tls' } | { kind: 'hello'; serverName?: string };

const HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
const SERVER_NAME_EXTENSION = 0x0000;
const HOST_NAME = 0x00;

/** A fatal `unrecognized_name` (112) alert record, sent in the clear before the handshake (TLS 1.2 and 1.3). */
export const UNRECOGNIZED_NAME_ALERT = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70]);

export function parseClientHello(buf: Buffer): HelloResult {
  if (buf.length < 5) return buf.length && buf[0] !== HANDSHAKE ? { kind: 'not-tls' } : { kind: 'incomplete' };
  if (buf[0] !== HANDSHAKE || buf[1] !== 0x03) return { kind: 'not-tls' };
  const recordLength = buf.readUInt16BE(3);
  if (buf.length < 5 + recordLength) return { kind: 'incomplete' };
  const rec = buf.subarray(5, 5 + recordLength);
  if (rec.length < 4 || rec[0] !== CLIENT_HELLO) return { kind: 'not-tls' };
  let o = 4 + 2 + 32; // handshake header, client_version, random
  const skip = (lenBytes: 1 | 2): boolean => {
    if (o + lenBytes > rec.length) return false;
    const n = lenBytes === 1 ? rec[o]! : rec.readUInt16BE(o);
    o += lenBytes + n;
    return o <= rec.length;
  };
  if (!skip(1) || !skip(2) || !skip(1)) return { kind: 'hello' }; // session id, cipher suites, compression
  if (o + 2 > rec.length) return { kind: 'hello' };
  const end = Math.min(rec.length, o + 2 + rec.readUInt16BE(o));
  o += 2;
  while (o + 4 <= end) {
    const type = rec.readUInt16BE(o);
    const len = rec.readUInt16BE(o + 2);
    const data = rec.subarray(o + 4, o + 4 + len);
    o += 4 + len;
    if (type !== SERVER_NAME_EXTENSION || data.length < 2) continue;
    let p = 2;
    while (p + 3 <= data.length) {
      const nameType = data[p]!;
      const nameLen = data.readUInt16BE(p + 1);
      if (nameType === HOST_NAME && p + 3 + nameLen <= data.length) return { kind: 'hello', serverName: data.subarray(p + 3, p + 3 + nameLen).toString('latin1') };
      p += 3 + nameLen;
    }
  }
  return { kind: 'hello' };
}
