// IP address helpers for ztunnel: parse to bytes, CIDR containment, `ip:port` authorities (IPv6 bracketed).
import net from 'node:net';

/** An IP prefix parsed once at the edge: `bytes` is 4 or 16 bytes, `length` the prefix length in bits. */
export interface IpPrefix {
  readonly bytes: Buffer;
  readonly length: number;
  /** As written, for dumps and logs, e.g. `10.0.0.0/8`. */
  readonly text: string;
}

/** 4 or 16 bytes of an IP address, or undefined when `text` is not an IP. IPv4-mapped IPv6 stays 16 bytes. */
export function ipBytes(text: string): Buffer | undefined {
  const family = net.isIP(text);
  if (family === 4) return Buffer.from(text.split('.').map((p) => Number(p)));
  if (family !== 6) return undefined;
  // Expand `::` and an embedded dotted quad, then read eight 16-bit groups.
  let head = text;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(head);
  if (dotted) {
    const v4 = ipBytes(dotted[1]!)!;
    head = `${head.slice(0, -dotted[1]!.length)}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const zone = head.indexOf('%');
  if (zone >= 0) head = head.slice(0, zone);
  const [left, right] = head.includes('::') ? head.split('::') as [string, string] : [head, undefined];
  const l = left ? left.split(':') : [];
  const r = right === undefined ? [] : right ? right.split(':') : [];
  const groups = right === undefined ? l : [...l, ...Array<string>(8 - l.length - r.length).fill('0'), ...r];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** Parses `a.b.c.d`, `a.b.c.d/n`, `x::y` or `x::y/n`; a bare address is a host prefix (/32 or /128). */
export function parseIpPrefix(text: string): IpPrefix | undefined {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const bytes = ipBytes(addr);
  if (!bytes) return undefined;
  const max = bytes.length * 8;
  let length = max;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText)) return undefined;
    length = Number(lenText);
    if (length > max) return undefined;
  }
  return { bytes, length, text };
}

/** Whether `ip` (bytes) lies inside `prefix`; different families never match. */
export function prefixContains(prefix: IpPrefix, ip: Buffer): boolean {
  if (prefix.bytes.length !== ip.length) return false;
  const full = prefix.length >> 3;
  for (let i = 0; i < full; i++) if (prefix.bytes[i] !== ip[i]) return false;
  const rest = prefix.length & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (prefix.bytes[full]! & mask) === (ip[full]! & mask);
}

/** `ip:port`, with IPv6 in brackets (`[ff06::c3]:80`): the HBONE `:authority` and log form. */
export function formatHostPort(ip: string, port: number): string {
  return net.isIPv6(ip) ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Whether `ip` is a loopback address (127.0.0.0/8, ::1, or 127.x mapped into IPv6). */
export function isLoopbackIp(ip: string): boolean {
  const v = canonicalIp(ip);
  return v.startsWith('127.') || v === '::1';
}

/** Strips an IPv4-mapped IPv6 prefix (`::ffff:1.2.3.4` → `1.2.3.4`), as Node reports dual-stack peers. */
export function canonicalIp(ip: string): string {
  return ip.startsWith('::ffff:') && net.isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}

/**
 * Parses an authority `ip:port` / `[v6]:port` / `host:port`. Returns undefined when the port is missing or out of
 * range or the host is empty (the HBONE server answers 400 then).
 */
export function parseAuthority(authority: string): { host: string; port: number; isIp: boolean } | undefined {
  let host: string;
  let portText: string;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0 || authority[close + 1] !== ':') return undefined;
    host = authority.slice(1, close);
    portText = authority.slice(close + 2);
    if (!net.isIPv6(host)) return undefined;
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon <= 0) return undefined;
    host = authority.slice(0, colon);
    portText = authority.slice(colon + 1);
    if (host.includes(':')) return undefined; // an unbracketed IPv6 address is ambiguous
  }
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  if (!net.isIP(host) && !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host)) return undefined;
  return { host, port, isIp: net.isIP(host) !== 0 };
}
