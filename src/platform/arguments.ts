// Argument checks shared by the platform functions: each failure names the function, the field and the reason.
import { isIP } from 'node:net';
import { PlatformArgumentError } from './platform-errors.js';

/** Where the named network namespaces live (`ip netns add` bind-mounts them here). */
export const NETNS_DIR = '/var/run/netns';

/**
 * A network namespace: a name under /var/run/netns (`pod-a`), an absolute path to a netns file
 * (`/proc/1234/ns/net`), an open netns fd (e.g. one received over SCM_RIGHTS), or null for the caller's own.
 */
export type NetnsRef = string | number | null;

const NETNS_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const IFACE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

export function checkNetnsName(fn: string, name: unknown): string {
  if (typeof name !== 'string' || !NETNS_NAME.test(name)) {
    throw new PlatformArgumentError(
      `${fn}: netns name ${JSON.stringify(name)} is invalid: use 1-63 letters, digits, '_', '.', '-' (not starting with a symbol)`);
  }
  return name;
}

export function checkInterfaceName(fn: string, field: string, name: unknown): string {
  if (typeof name !== 'string' || !IFACE_NAME.test(name)) {
    throw new PlatformArgumentError(
      `${fn}: ${field} ${JSON.stringify(name)} is invalid: an interface name is 1-15 letters, digits, '_', '.', '-'`);
  }
  return name;
}

/** The form the addon takes: a netns file path, an fd, or null. */
export function resolveNetns(fn: string, ref: NetnsRef): string | number | null {
  if (ref === null) return null;
  if (typeof ref === 'number') {
    if (!Number.isInteger(ref) || ref < 0 || ref > 0x7fffffff) {
      throw new PlatformArgumentError(`${fn}: netns fd ${ref} is invalid: must be a non-negative integer`);
    }
    return ref;
  }
  if (typeof ref === 'string' && ref.startsWith('/')) {
    if (ref.includes('\0')) throw new PlatformArgumentError(`${fn}: netns path contains a NUL byte`);
    return ref;
  }
  return `${NETNS_DIR}/${checkNetnsName(fn, ref)}`;
}

export function checkIp(fn: string, field: string, value: unknown): { ip: string; family: 4 | 6 } {
  const family = typeof value === 'string' ? isIP(value) : 0;
  if (family === 0) throw new PlatformArgumentError(`${fn}: ${field} ${JSON.stringify(value)} is not an IPv4 or IPv6 address`);
  return { ip: value as string, family: family as 4 | 6 };
}

export function checkInteger(fn: string, field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new PlatformArgumentError(`${fn}: ${field} ${JSON.stringify(value)} is invalid: must be an integer from ${min} to ${max}`);
  }
  return value;
}

export function checkPort(fn: string, field: string, value: unknown, allowZero: boolean): number {
  return checkInteger(fn, field, value, allowZero ? 0 : 1, 65535);
}

/** Packet marks are 32-bit (SO_MARK). */
export function checkMark(fn: string, value: unknown): number {
  return checkInteger(fn, 'mark', value, 0, 0xffffffff);
}

export function checkBoolean(fn: string, field: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new PlatformArgumentError(`${fn}: ${field} must be true or false`);
  return value;
}

/** An address with prefix length, as `ip addr add` takes it: `10.250.1.2/24`, `fd00:250::2/64`. */
export function checkCidr(fn: string, field: string, value: unknown): { cidr: string; family: 4 | 6 } {
  const m = typeof value === 'string' ? /^([^/]+)\/(\d{1,3})$/.exec(value) : null;
  const family = m ? isIP(m[1]) : 0;
  if (!m || family === 0 || Number(m[2]) > (family === 4 ? 32 : 128)) {
    throw new PlatformArgumentError(`${fn}: ${field} ${JSON.stringify(value)} is not an address with prefix length (e.g. 10.250.1.2/24)`);
  }
  return { cidr: value as string, family: family as 4 | 6 };
}
