// `ambit -n NS waypoint run --name GW`: runs one waypoint proxy (the process of a waypoint Gateway's pod, which the
// control plane's waypoint controller creates) until SIGTERM/SIGINT or POST /quitquitquit, then drains. A
// subcommand of the CLI's `waypoint` group (apply/list/…), as istioctl keeps waypoint verbs together.
import { join } from 'node:path';
import type { Command } from 'commander';
import { MeshError } from '../lib/errors.js';
import { createLogger } from '../lib/log.js';
import { untilSignal } from '../lib/signals.js';
import { LOG_LEVELS, checkLogLevel, parseHostPort } from '../lib/flags.js';
import { PORT_HBONE } from '../lib/mesh-contract.js';
import { startHeapTrimming } from '../platform/index.js';
import { runWaypoint } from './waypoint.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

class WaypointFlagError extends MeshError {
  constructor(message: string) {
    super('WP_FLAGS', message);
  }
}

/** What the verb needs from the composition root. */
interface WaypointVerbContext {
  dataDir(cmd: Command): string;
  /** The pod facts the sandbox (or Kubernetes' downward API) puts in the environment. */
  podEnv: { nodeName?: string; podIp?: string };
  /** The global `-n/--namespace`. */
  namespace(cmd: Command): string | undefined;
}

interface WaypointFlags {
  name: string;
  serviceAccount?: string;
  node?: string;
  xdsAddress: string;
  rootCert?: string;
  hbone: string;
  admin: string;
  stats: string;
  readiness: string;
  trustDomain: string;
  clusterId: string;
  connectTimeout: string;
  terminationGracePeriod: string;
  logLevel: string;
}

export function registerWaypointVerb(program: Command, ctx: WaypointVerbContext): void {
  const group = program.commands.find((c) => c.name() === 'waypoint') ?? program.command('waypoint').description('waypoints (Gateways of class istio-waypoint)');
  group
    .command('run')
    .description("run a waypoint proxy (the process in a waypoint Gateway's pod): HBONE in and out, HTTP/gRPC routing, request telemetry")
    .requiredOption('--name <gateway>', 'the waypoint Gateway this proxy serves')
    .option('--service-account <sa>', 'service account of the identity (default: the Gateway name)')
    .option('--node <name>', 'the node this pod runs on (default $NODE_NAME)')
    .option('--xds-address <host:port>', 'control plane xDS + CA endpoint (TLS)', '127.0.0.1:15012')
    .option('--root-cert <file>', "PEM bundle the control plane's certificate must chain to (default <data-dir>/ca/root-cert.pem)")
    .option('--hbone <host:port>', 'HBONE listener', `0.0.0.0:${PORT_HBONE}`)
    .option('--admin <host:port>', 'admin listener (config_dump, logging, quitquitquit)', '127.0.0.1:15000')
    .option('--stats <host:port>', 'Prometheus listener (/stats/prometheus)', '0.0.0.0:15020')
    .option('--readiness <host:port>', 'readiness listener (/healthz/ready)', '0.0.0.0:15021')
    .option('--trust-domain <domain>', 'mesh trust domain', 'cluster.local')
    .option('--cluster-id <id>', 'cluster id sent to the control plane', 'Kubernetes')
    .option('--connect-timeout <seconds>', 'upstream connect timeout', '10')
    .option('--termination-grace-period <seconds>', 'how long open requests may finish once told to stop', '5')
    .option('--log-level <level>', `log level (${LOG_LEVELS.join(', ')})`, 'info')
    .action(async (flags: WaypointFlags, cmd: Command) => {
      const opts = { ...flags, namespace: ctx.namespace(cmd) ?? 'default' };
      for (const [flag, v] of [['--name', opts.name], ['-n/--namespace', opts.namespace], ['--service-account', opts.serviceAccount ?? opts.name]] as const) {
        if (!DNS_LABEL.test(v)) throw new WaypointFlagError(`${flag} must be a DNS label, got "${v}"`);
      }
      const node = opts.node ?? ctx.podEnv.nodeName;
      if (!node) throw new WaypointFlagError('--node is required when NODE_NAME is not set');
      checkLogLevel(opts.logLevel);
      const seconds = (flag: string, text: string, max: number): number => {
        const n = Number(text);
        if (!Number.isFinite(n) || n < 0 || n > max) throw new WaypointFlagError(`${flag} must be a number of seconds from 0 to ${max}, got "${text}"`);
        return Math.round(n * 1000);
      };
      parseHostPort(opts.xdsAddress, '--xds-address', { allowPortZero: true });
      const dataDir = ctx.dataDir(cmd);
      const log = createLogger('waypoint', { level: opts.logLevel }).child({ waypoint: `${opts.namespace}/${opts.name}` });
      const stop = untilSignal();
      const handle = await runWaypoint({
        name: opts.name,
        namespace: opts.namespace,
        serviceAccount: opts.serviceAccount ?? opts.name,
        node,
        podIp: ctx.podEnv.podIp,
        dataDir,
        xdsAddress: opts.xdsAddress,
        rootCertPath: opts.rootCert ?? join(dataDir, 'ca', 'root-cert.pem'),
        // The global --token-file: the service-account token (audience istio-ca, Kubernetes) to authenticate with.
        tokenFile: cmd.optsWithGlobals<{ tokenFile?: string }>().tokenFile,
        trustDomain: opts.trustDomain,
        clusterId: opts.clusterId,
        hbone: parseHostPort(opts.hbone, '--hbone', { allowPortZero: true }),
        adminAddress: parseHostPort(opts.admin, '--admin', { allowPortZero: true }),
        statsAddress: parseHostPort(opts.stats, '--stats', { allowPortZero: true }),
        readinessAddress: parseHostPort(opts.readiness, '--readiness', { allowPortZero: true }),
        connectTimeoutMs: seconds('--connect-timeout', opts.connectTimeout, 600),
        terminationGraceMs: seconds('--termination-grace-period', opts.terminationGracePeriod, 3600),
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
