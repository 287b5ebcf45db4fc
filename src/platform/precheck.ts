// Machine prerequisites of the sandbox mesh (`ambit check`, `ambit demo`): each check is a pure verdict over a probe's
// outcome (a command result, a uid, a version string) plus the probe that gathers it; every failure names its fix.
import net from 'node:net';
import { runCommand } from './command.js';
import { createNetns, deleteNetns, ipIn } from './netns.js';
import { applyNft } from './nftables.js';
import { createSocketInNetns } from './netns-sockets.js';
import { loadNativeAddon, nativeAddon } from './native-addon.js';
import { describeError } from '../lib/errors.js';
import { CONNMARK, MARK_MASK, PORT_CONTROL_PLANE_MONITORING, PORT_OUTBOUND, ZTUNNEL_MARK } from '../lib/mesh-contract.js';

/** `fail` blocks the sandbox; `warn` matters only for some uses (named in the detail); `skip` could not be checked. */
type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

export interface CheckResult {
  /** Stable short id (`root`, `bin-nft`, `kernel-nat`, …). */
  id: string;
  /** What is checked, in words. */
  title: string;
  status: CheckStatus;
  /** What was found. */
  detail: string;
  /** What to do about a fail/warn/skip. */
  fix?: string;
}

/** What a probe saw: it succeeded, or it failed with this message. */
type ProbeOutcome = { ok: true; output?: string } | { ok: false; error: string };

const MIN_NODE_MAJOR = 20;
/** nftables NAT redirect + conntrack marks in a netns work reliably from 5.4 (Debian 11's kernel is 5.10). */
const MIN_KERNEL: readonly [number, number] = [5, 4];

// --- pure verdicts ---

export function checkRoot(uid: number): CheckResult {
  return uid === 0
    ? { id: 'root', title: 'running as root', status: 'pass', detail: 'uid 0' }
    : {
        id: 'root', title: 'running as root', status: 'fail', detail: `uid ${uid}: network namespaces and nftables need root`,
        fix: 'run as root (for example `sudo -i`, then the same command again)',
      };
}

export function checkNodeVersion(version: string): CheckResult {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  const title = `Node.js ${MIN_NODE_MAJOR} or newer`;
  if (Number.isInteger(major) && major >= MIN_NODE_MAJOR) return { id: 'node', title, status: 'pass', detail: `node ${version}` };
  return { id: 'node', title, status: 'fail', detail: `node ${version}`, fix: `install Node.js ${MIN_NODE_MAJOR} or newer (https://nodejs.org or the NodeSource Debian packages)` };
}

export function checkKernelRelease(release: string): CheckResult {
  const m = /^(\d+)\.(\d+)/.exec(release);
  const title = `Linux kernel ${MIN_KERNEL.join('.')} or newer`;
  if (!m) return { id: 'kernel', title, status: 'warn', detail: `cannot read the kernel version from "${release}"`, fix: 'make sure this is Linux; the feature checks below are what counts' };
  const [maj, min] = [Number(m[1]), Number(m[2])];
  const ok = maj > MIN_KERNEL[0] || (maj === MIN_KERNEL[0] && min >= MIN_KERNEL[1]);
  return ok
    ? { id: 'kernel', title, status: 'pass', detail: `Linux ${release}` }
    : { id: 'kernel', title, status: 'fail', detail: `Linux ${release}`, fix: `upgrade to a kernel of ${MIN_KERNEL.join('.')} or newer (Debian 12 ships 6.1)` };
}

/** An executable the sandbox runs. */
interface BinarySpec {
  name: string;
  /** Arguments that make it print its version and exit 0. */
  versionArgs: string[];
  /** Debian package providing it. */
  debianPackage: string;
  /** What uses it (shown in the title). */
  usedFor: string;
  /** Missing it is a `warn`, not a `fail`. */
  optional?: boolean;
}

export const BINARIES: readonly BinarySpec[] = [
  { name: 'ip', versionArgs: ['-V'], debianPackage: 'iproute2', usedFor: 'network namespaces, veth links, routes' },
  { name: 'nft', versionArgs: ['--version'], debianPackage: 'nftables', usedFor: 'capture and service rules' },
  { name: 'start-stop-daemon', versionArgs: ['--version'], debianPackage: 'dpkg', usedFor: 'starting the cluster supervisor' },
  { name: 'curl', versionArgs: ['--version'], debianPackage: 'curl', usedFor: 'the demo client pod', optional: true },
];

export function checkBinary(spec: BinarySpec, outcome: ProbeOutcome): CheckResult {
  const id = `bin-${spec.name}`;
  const title = `${spec.name} (${spec.usedFor})`;
  if (outcome.ok) return { id, title, status: 'pass', detail: firstLine(outcome.output ?? '') || 'found' };
  return { id, title, status: spec.optional ? 'warn' : 'fail', detail: outcome.error, fix: `apt-get install -y ${spec.debianPackage}` };
}

/** A kernel feature, tested by really using it inside a throw-away network namespace. */
interface FeatureSpec {
  id: string;
  title: string;
  fix: string;
}

export const FEATURES = {
  netns: { id: 'kernel-netns', title: 'network namespaces', fix: 'the kernel needs CONFIG_NET_NS; in a container, run it privileged (CAP_SYS_ADMIN and CAP_NET_ADMIN)' },
  veth: { id: 'kernel-veth', title: 'veth pairs', fix: 'modprobe veth (kernel CONFIG_VETH)' },
  nftables: { id: 'kernel-nftables', title: 'nftables (nf_tables)', fix: 'modprobe nf_tables (kernel CONFIG_NF_TABLES); install the nftables package' },
  nat: { id: 'kernel-nat', title: 'nftables NAT redirect (capture to ztunnel ports)', fix: 'modprobe nft_nat nft_redir (kernel CONFIG_NFT_NAT, CONFIG_NFT_REDIR)' },
  conntrack: { id: 'kernel-conntrack', title: 'conntrack marks (ct mark)', fix: 'modprobe nf_conntrack nft_ct (kernel CONFIG_NF_CONNTRACK, CONFIG_NFT_CT)' },
  policyRouting: { id: 'kernel-policy-routing', title: 'policy routing by firewall mark', fix: 'the kernel needs CONFIG_IP_MULTIPLE_TABLES and CONFIG_IP_ADVANCED_ROUTER' },
  transparent: { id: 'kernel-transparent', title: 'transparent sockets (IP_TRANSPARENT, as tproxy uses)', fix: 'needs CAP_NET_ADMIN and kernel CONFIG_NETFILTER_XT_TARGET_TPROXY/NF_TPROXY (Debian kernels have them)' },
} as const satisfies Record<string, FeatureSpec>;

export function checkFeature(spec: FeatureSpec, outcome: ProbeOutcome | 'not-run', why?: string): CheckResult {
  if (outcome === 'not-run') return { id: spec.id, title: spec.title, status: 'skip', detail: `not checked: ${why ?? 'an earlier check failed'}`, fix: 'fix the failures above, then check again' };
  if (outcome.ok) return { id: spec.id, title: spec.title, status: 'pass', detail: 'works' };
  return { id: spec.id, title: spec.title, status: 'fail', detail: outcome.error, fix: spec.fix };
}

function checkNativeAddon(outcome: ProbeOutcome): CheckResult {
  const title = 'native addon (sockets in network namespaces, original destination, marks)';
  if (outcome.ok) return { id: 'native-addon', title, status: 'pass', detail: 'loaded' };
  return { id: 'native-addon', title, status: 'fail', detail: outcome.error, fix: 'run ./scripts/setup.sh (npm ci builds native/; needs g++, make and python3)' };
}

/** A host TCP port that `ambit controlplane` binds when run directly on this host (the sandbox does not need it). */
export function checkHostPort(host: string, port: number, purpose: string, outcome: ProbeOutcome): CheckResult {
  const id = `port-${port}`;
  const title = `port ${host}:${port} free (${purpose})`;
  if (outcome.ok) return { id, title, status: 'pass', detail: 'free' };
  return {
    id, title, status: 'warn', detail: `${outcome.error}; only \`ambit controlplane\` run directly on the host needs it (the sandbox runs in its own namespaces)`,
    fix: `find the owner with \`ss -ltnp 'sport = :${port}'\`, or start the control plane with another port`,
  };
}

/** The checks that block the sandbox. */
export function blockingFailures(results: readonly CheckResult[]): CheckResult[] {
  return results.filter((r) => r.status === 'fail');
}

// --- probes ---

async function probeCommand(argv: string[]): Promise<ProbeOutcome> {
  try {
    const r = await runCommand(argv, { timeoutMs: 10_000 });
    return { ok: true, output: r.stdout || r.stderr };
  } catch (err) {
    return { ok: false, error: describeError(err) };
  }
}

async function probe(fn: () => Promise<unknown> | unknown): Promise<ProbeOutcome> {
  try {
    await fn();
    return { ok: true };
  } catch (err) {
    return { ok: false, error: describeError(err) };
  }
}

function probePortFree(host: string, port: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, error: err.code === 'EADDRINUSE' ? 'in use' : describeError(err) }));
    server.listen(port, host, () => server.close(() => resolve({ ok: true })));
  });
}

const hex = (n: number): string => `0x${n.toString(16)}`;

// Rules in the shape the node agent installs (NAT redirect, conntrack mark), applied in a probe netns.
const NAT_PROBE = [
  'table inet ambit_precheck {',
  '  chain output_nat {',
  '    type nat hook output priority -100; policy accept;',
  `    meta l4proto tcp ip daddr 192.0.2.1 redirect to :${PORT_OUTBOUND}`,
  '  }',
  '}',
  '',
].join('\n');
const CONNTRACK_PROBE = [
  'table inet ambit_precheck_ct {',
  '  chain prerouting_mangle {',
  '    type filter hook prerouting priority mangle; policy accept;',
  `    meta mark & ${hex(MARK_MASK)} == ${hex(ZTUNNEL_MARK)} ct mark set ct mark & 0xfffff000 | ${hex(CONNMARK)}`,
  '  }',
  '}',
  '',
].join('\n');
const BASIC_NFT_PROBE = 'table inet ambit_precheck_basic {\n  chain input {\n    type filter hook input priority 0; policy accept;\n  }\n}\n';

interface PrecheckOptions {
  uid: number;
  nodeVersion: string;
  kernelRelease: string;
  /** Name of the throw-away netns for the feature probes (removed afterwards). */
  probeNetns: string;
  /** Host ports to check (default 15012 and 15014 on 127.0.0.1). */
  hostPorts?: Array<{ host: string; port: number; purpose: string }>;
}

const DEFAULT_HOST_PORTS = [
  { host: '127.0.0.1', port: 15012, purpose: 'control plane CA/xDS' },
  { host: '127.0.0.1', port: PORT_CONTROL_PLANE_MONITORING, purpose: 'control plane metrics' },
];

/** Runs every check, in order; never throws (a probe that cannot run is reported as a failed or skipped check). */
export async function runPrechecks(opts: PrecheckOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [checkRoot(opts.uid), checkNodeVersion(opts.nodeVersion), checkKernelRelease(opts.kernelRelease)];
  const binaries = new Map<string, CheckResult>();
  for (const spec of BINARIES) {
    const r = checkBinary(spec, await probeCommand([spec.name, ...spec.versionArgs]));
    binaries.set(spec.name, r);
    results.push(r);
  }
  results.push(checkNativeAddon(await probe(() => loadNativeAddon())));
  results.push(...(await featureChecks(opts, binaries)));
  for (const p of opts.hostPorts ?? DEFAULT_HOST_PORTS) results.push(checkHostPort(p.host, p.port, p.purpose, await probePortFree(p.host, p.port)));
  return results;
}

async function featureChecks(opts: PrecheckOptions, binaries: Map<string, CheckResult>): Promise<CheckResult[]> {
  const all = Object.values(FEATURES);
  if (opts.uid !== 0) return all.map((f) => checkFeature(f, 'not-run', 'needs root'));
  if (binaries.get('ip')?.status !== 'pass') return all.map((f) => checkFeature(f, 'not-run', 'needs the ip command'));
  const ns = opts.probeNetns;
  await deleteNetns(ns, { ignoreMissing: true }).catch(() => undefined);
  const netnsOutcome = await probe(() => createNetns(ns));
  const out = [checkFeature(FEATURES.netns, netnsOutcome)];
  if (!netnsOutcome.ok) return [...out, ...all.slice(1).map((f) => checkFeature(f, 'not-run', 'network namespaces do not work'))];
  try {
    out.push(checkFeature(FEATURES.veth, await probe(() => ipIn(ns, ['link', 'add', 'pc0', 'type', 'veth', 'peer', 'name', 'pc1']))));
    if (binaries.get('nft')?.status === 'pass') {
      const basic = await probe(() => applyNft(ns, BASIC_NFT_PROBE));
      out.push(checkFeature(FEATURES.nftables, basic));
      out.push(basic.ok ? checkFeature(FEATURES.nat, await probe(() => applyNft(ns, NAT_PROBE))) : checkFeature(FEATURES.nat, 'not-run', 'nftables does not work'));
      out.push(basic.ok ? checkFeature(FEATURES.conntrack, await probe(() => applyNft(ns, CONNTRACK_PROBE))) : checkFeature(FEATURES.conntrack, 'not-run', 'nftables does not work'));
    } else {
      for (const f of [FEATURES.nftables, FEATURES.nat, FEATURES.conntrack]) out.push(checkFeature(f, 'not-run', 'needs the nft command'));
    }
    out.push(checkFeature(FEATURES.policyRouting, await probe(() => ipIn(ns, ['-4', 'rule', 'add', 'fwmark', `${hex(CONNMARK)}/${hex(MARK_MASK)}`, 'pref', '32764', 'lookup', '100']))));
    out.push(checkFeature(FEATURES.transparent, await probe(() => {
      const fd = createSocketInNetns(ns, { family: 4, type: 'stream', transparent: true, bindIp: '192.0.2.7', bindPort: 0 });
      nativeAddon().closeFd(fd);
    })));
  } finally {
    await deleteNetns(ns, { ignoreMissing: true }).catch(() => undefined);
  }
  return out;
}

/** The first line of a version banner, cut to a table-friendly length. */
function firstLine(text: string): string {
  const line = text.split('\n')[0]!.trim();
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}
