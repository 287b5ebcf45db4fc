// Network namespace toolkit over `ip`: create, delete, list, run commands inside, veth pairs with addresses.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { runCommand, type CommandOptions, type CommandResult } from './command.js';
import { checkCidr, checkInterfaceName, checkNetnsName, NETNS_DIR } from './arguments.js';
import { PlatformArgumentError } from './platform-errors.js';

/** The bind-mounted netns file of a named namespace. */
export function netnsPath(name: string): string {
  return `${NETNS_DIR}/${checkNetnsName('netnsPath', name)}`;
}

/** Creates a named netns with its loopback interface up; returns its path. Fails if it exists already. */
export async function createNetns(name: string): Promise<string> {
  checkNetnsName('createNetns', name);
  await runCommand(['ip', 'netns', 'add', name]);
  try {
    await runCommand(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
  } catch (err) {
    await runCommand(['ip', 'netns', 'del', name]).catch(() => undefined);
    throw err;
  }
  return netnsPath(name);
}

/**
 * Deletes a named netns (its interfaces go with it; sockets still open in it keep the netns alive until closed).
 * With `ignoreMissing`, a netns that does not exist is not an error.
 */
export async function deleteNetns(name: string, opts: { ignoreMissing?: boolean } = {}): Promise<void> {
  checkNetnsName('deleteNetns', name);
  if (opts.ignoreMissing && !(await listNetns()).includes(name)) return;
  await runCommand(['ip', 'netns', 'del', name]);
}

/** Names of the named network namespaces. */
export async function listNetns(): Promise<string[]> {
  const { stdout } = await runCommand(['ip', '-j', 'netns', 'list']);
  if (!stdout.trim()) return []; // `ip` prints nothing at all when there are none
  const parsed = JSON.parse(stdout) as Array<{ name?: unknown }>;
  return parsed.map((e) => e.name).filter((n): n is string => typeof n === 'string').sort();
}

/**
 * Whether the network namespace with this inode still exists for anyone but holders of an fd to it: it is
 * bind-mounted (a named netns, as `ip netns add` makes it) or some process lives in it. An fd (ztunnel keeps one
 * per pod) holds the kernel object but says nothing about the pod: once the mount and the processes are gone, the
 * pod is.
 */
export function netnsInUse(inode: number): boolean {
  const tag = `net:[${inode}]`;
  try {
    // mountinfo's 4th field is the mount's root: `net:[<inode>]` for a bind-mounted namespace file.
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) if (line.split(' ')[3] === tag) return true;
  } catch {
    // no /proc/self/mountinfo: fall back to the process scan
  }
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readlinkSync(`/proc/${pid}/ns/net`) === tag) return true;
    } catch {
      // exited meanwhile, or not ours to inspect
    }
  }
  return false;
}

/** Runs `argv` inside a named netns (`ip netns exec`) and waits for it. */
export async function runIn(name: string, argv: readonly string[], opts?: CommandOptions): Promise<CommandResult> {
  checkNetnsName('runIn', name);
  if (argv.length === 0) throw new PlatformArgumentError('runIn: argv is empty');
  return runCommand(['ip', 'netns', 'exec', name, ...argv], opts);
}

/** Starts a long-running process inside a named netns; the caller owns the child (stdio, exit, kill). */
export function spawnIn(name: string, argv: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  checkNetnsName('spawnIn', name);
  if (argv.length === 0) throw new PlatformArgumentError('spawnIn: argv is empty');
  return spawn('ip', ['netns', 'exec', name, ...argv], opts);
}

/** `ip -n <name> <args…>`: one iproute2 command applied inside a named netns (routes, rules, links). */
export async function ipIn(name: string, args: readonly string[]): Promise<CommandResult> {
  checkNetnsName('ipIn', name);
  return runCommand(['ip', '-n', name, ...args]);
}

export interface VethEnd {
  /** Named netns this end lives in. */
  netns: string;
  /** Interface name inside that netns (at most 15 characters). */
  name: string;
  /** Addresses with prefix, IPv4 and/or IPv6 (`10.250.1.2/24`, `fd00:250:1::2/64`). */
  addresses?: string[];
}

/**
 * Creates a veth pair whose ends are born directly inside their namespaces (the names never appear in the
 * caller's netns), assigns the addresses and brings both ends up. IPv6 addresses skip duplicate address
 * detection so they are usable at once.
 */
export async function createVethPair(a: VethEnd, b: VethEnd): Promise<void> {
  for (const [field, end] of [['a', a], ['b', b]] as const) {
    checkNetnsName('createVethPair', end.netns);
    checkInterfaceName('createVethPair', `${field}.name`, end.name);
    for (const addr of end.addresses ?? []) checkCidr('createVethPair', `${field}.addresses`, addr);
  }
  await runCommand(['ip', 'link', 'add', a.name, 'netns', a.netns, 'type', 'veth', 'peer', 'name', b.name, 'netns', b.netns]);
  for (const end of [a, b]) {
    for (const addr of end.addresses ?? []) {
      const { family } = checkCidr('createVethPair', 'addresses', addr);
      await ipIn(end.netns, family === 6 ? ['-6', 'addr', 'add', addr, 'dev', end.name, 'nodad'] : ['addr', 'add', addr, 'dev', end.name]);
    }
    await ipIn(end.netns, ['link', 'set', end.name, 'up']);
  }
}
