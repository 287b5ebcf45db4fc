// `ambit ztunnel --node N`: runs one node's ztunnel until SIGTERM/SIGINT or POST /quitquitquit, then drains for the
// termination grace period (started by the sandbox supervisor in the node's netns, with a handover file so a
// replacement takes over the pods' ports before this one lets go).
import { join } from 'node:path';
import type { Command } from 'commander';
import { MeshError } from '../lib/errors.js';
import { createLogger } from '../lib/log.js';
import { untilSignal } from '../lib/signals.js';
import { DEFAULT_TERMINATION_GRACE_MS, runZtunnel } from './ztunnel.js';
import { defaultZdsSocketPath } from '../lib/mesh-contract.js';
import { LOG_LEVELS, checkLogLevel, parseHostPort } from '../lib/flags.js';
import { startHeapTrimming } from '../platform/index.js';

const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

class ZtunnelFlagError extends MeshError {
  constructor(message: string) {
    super('ZT_FLAGS', message);
  }
}

/** What the verb needs from the composition root (the CLI context satisfies it structurally). */
interface ZtunnelVerbContext {
  dataDir(cmd: Command): string;
}

/** `<dataDir>/nodes/<node>/ztunnel-admin.sock`: the node's ztunnel admin, reachable from the host. */
function ztunnelAdminSocketPathOf(dataDir: string, node: string): string {
  return join(dataDir, 'nodes', node, 'ztunnel-admin.sock');
}


interface ZtunnelFlags {
  node: string;
  xdsAddress: string;
  caAddress?: string;
  rootCert?: string;
  zdsSocket?: string;
  adminSocket?: string;
  admin: string;
  stats: string;
  readiness: string;
  nodeIp?: string;
  trustDomain: string;
  clusterId: string;
  network: string;
  drain: string;
  terminationGracePeriod: string;
  handoverFile?: string;
  logLevel: string;
}

export function registerZtunnelVerb(program: Command, ctx: ZtunnelVerbContext): void {
  program
    .command('ztunnel')
    .description("run a node's ztunnel: per-pod HBONE mTLS proxies, L4 authorization, TCP telemetry (until SIGTERM/SIGINT)")
    .requiredOption('--node <name>', 'the node whose pods this ztunnel serves')
    .option('--xds-address <host:port>', 'control plane xDS + CA endpoint (TLS)', '127.0.0.1:15012')
    .option('--ca-address <host:port>', 'CA endpoint when it differs from --xds-address')
    .option('--root-cert <file>', "PEM bundle the control plane's certificate must chain to (default <data-dir>/ca/root-cert.pem)")
    .option('--zds-socket <path>', "the node agent's ZDS socket (default <data-dir>/nodes/<node>/zds.sock)")
    .option('--admin-socket <path>', 'also serve admin on this Unix socket (default <data-dir>/nodes/<node>/ztunnel-admin.sock; "off" = none)')
    .option('--admin <host:port>', 'admin listener (config_dump, logging, quitquitquit)', '127.0.0.1:15000')
    .option('--stats <host:port>', 'Prometheus listener (/stats/prometheus)', '0.0.0.0:15020')
    .option('--readiness <host:port>', 'readiness listener (/healthz/ready)', '0.0.0.0:15021')
    .option('--node-ip <ip>', "this node's IP (sent in the xDS node id)")
    .option('--trust-domain <domain>', 'trust domain assumed for pods xDS has not described yet', 'cluster.local')
    .option('--cluster-id <id>', 'cluster id sent to the control plane', 'Kubernetes')
    .option('--network <name>', "this node's network name", '')
    .option('--drain <seconds>', "how long open connections of a pod removed from this ztunnel may finish", '5')
    .option('--termination-grace-period <seconds>', 'how long open connections may finish once ztunnel is told to stop', String(DEFAULT_TERMINATION_GRACE_MS / 1000))
    .option('--handover-file <path>', 'restart handover file: on stop, keep the listeners until a replacement writes "ready" to it')
    .option('--log-level <level>', `log level (${LOG_LEVELS.join(', ')})`, 'info')
    .action(async (opts: ZtunnelFlags, cmd: Command) => {
      if (!NODE_NAME.test(opts.node)) throw new ZtunnelFlagError(`--node must be a node name (a DNS-1123 subdomain), got "${opts.node}"`);
      checkLogLevel(opts.logLevel);
      const drain = Number(opts.drain);
      if (!Number.isFinite(drain) || drain < 0 || drain > 600) throw new ZtunnelFlagError(`--drain must be a number of seconds from 0 to 600, got "${opts.drain}"`);
      const grace = Number(opts.terminationGracePeriod);
      if (!Number.isFinite(grace) || grace < 0 || grace > 3600) {
        throw new ZtunnelFlagError(`--termination-grace-period must be a number of seconds from 0 to 3600, got "${opts.terminationGracePeriod}"`);
      }
      parseHostPort(opts.xdsAddress, '--xds-address', { allowPortZero: true });
      if (opts.caAddress) parseHostPort(opts.caAddress, '--ca-address', { allowPortZero: true });
      const dataDir = ctx.dataDir(cmd);
      const log = createLogger('ztunnel', { level: opts.logLevel }).child({ node: opts.node });
      const stop = untilSignal();
      const handle = await runZtunnel({
        node: opts.node,
        dataDir,
        xdsAddress: opts.xdsAddress,
        caAddress: opts.caAddress,
        rootCertPath: opts.rootCert ?? join(dataDir, 'ca', 'root-cert.pem'),
        zdsSocketPath: opts.zdsSocket ?? defaultZdsSocketPath(dataDir, opts.node),
        adminSocketPath: opts.adminSocket === 'off' ? undefined : (opts.adminSocket ?? ztunnelAdminSocketPathOf(dataDir, opts.node)),
        adminAddress: parseHostPort(opts.admin, '--admin', { allowPortZero: true }),
        statsAddress: parseHostPort(opts.stats, '--stats', { allowPortZero: true }),
        readinessAddress: parseHostPort(opts.readiness, '--readiness', { allowPortZero: true }),
        nodeIp: opts.nodeIp,
        trustDomain: opts.trustDomain,
        clusterId: opts.clusterId,
        network: opts.network,
        drainMs: Math.round(drain * 1000),
        terminationGraceMs: Math.round(grace * 1000),
        handoverFile: opts.handoverFile,
        // The global --token-file: here the service-account token (audience istio-ca, Kubernetes) ztunnel
        // authenticates to the CA and xDS with, read anew for every request, instead of the node's bootstrap token.
        tokenFile: cmd.optsWithGlobals<{ tokenFile?: string }>().tokenFile,
        log,
      });
      // A proxy process lives for days: memory freed after a burst goes back to the node (src/platform/heap-trim.ts).
      const stopTrimming = startHeapTrimming();
      const why = await Promise.race([stop, handle.quitRequested.then(() => 'quitquitquit')]);
      log.info({ reason: why }, 'stopping');
      stopTrimming();
      await handle.shutdown();
    });
}
