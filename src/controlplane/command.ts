// `ambit controlplane`: runs the control plane (store, REST API, CA + xDS on 15012, metrics) until SIGTERM/SIGINT.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { FlagError, LOG_LEVELS, checkLogLevel, parseHostPort, readTokenFile } from '../lib/flags.js';
import { untilSignal } from '../lib/signals.js';
import { PORT_DASHBOARD } from '../lib/mesh-contract.js';
import type { KubeEndpoint } from './client/index.js';

/** What the verb needs from the composition root. */
interface ControlPlaneVerbContext {
  dataDir(cmd: Command): string;
  /** The global `--token-file`, if given. */
  tokenFile(cmd: Command): string | undefined;
  /** Ends the process after `ms` unless it ended before (only the composition root may exit). */
  exitAfter(ms: number): void;
  /** argv that starts this `ambit` build (node + main.js): the command of the waypoint pods it deploys. */
  selfCommand: readonly string[];
  /** The Kubernetes API server of the global --kubeconfig: config comes from it instead of the embedded store. */
  kube(cmd: Command): KubeEndpoint | undefined;
}

interface ControlPlaneFlags {
  listen?: string;
  grpcListen: string;
  metricsListen: string;
  trustDomain: string;
  pluggedCaDir?: string;
  maxCertTtl: string;
  logLevel: string;
  xdsAdvertiseAddress?: string;
  waypointImage?: string;
  caSecret?: string;
  cacertsDir?: string;
  dashboardListen: string;
  prometheus?: string;
}

export function registerControlPlaneVerb(program: Command, ctx: ControlPlaneVerbContext): void {
  program
    .command('controlplane')
    .description('run the control plane: config store and REST API (until SIGTERM/SIGINT)')
    .option('--listen <host:port>', 'also serve the API on TCP (requires --token-file)')
    .option('--grpc-listen <host:port>', 'CA gRPC service (TLS); port 0 picks a free one', '127.0.0.1:15012')
    .option('--metrics-listen <host:port|off>', 'Prometheus metrics over HTTP (/metrics)', '127.0.0.1:15014')
    .option('--trust-domain <domain>', 'SPIFFE trust domain of issued identities', 'cluster.local')
    .option('--plugged-ca-dir <dir>', "act as an intermediate CA from Istio's cacerts layout (ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem)")
    .option('--cacerts-dir <dir>', "use the plugged-in CA in this dir (Istio's cacerts layout) if it holds ca-key.pem, else the self-managed root: an optional cacerts Secret's mount")
    .option('--ca-secret <namespace/name|off>', 'on Kubernetes, the Secret the self-managed CA root is also kept in, so a restarted control plane keeps it (default istio-system/ambit-ca)')
    .option('--max-cert-ttl <seconds>', 'upper bound on issued certificate lifetimes', '86400')
    .option('--xds-advertise-address <host:port>', 'where waypoint pods reach this control plane (default: --grpc-listen)')
    .option('--waypoint-image <ref>', 'image of waypoint pods on Kubernetes', 'ambit/ambit:0.1.0')
    .option('--dashboard-listen <host:port|off>', 'the dashboard over HTTP (also always on <data dir>/dashboard.sock); off the loopback it needs --listen\'s token', `127.0.0.1:${PORT_DASHBOARD}`)
    .option('--prometheus <url>', 'the dashboard reads metrics from this Prometheus instead of scraping the proxies itself')
    .option('--log-level <level>', `log level (${LOG_LEVELS.join(', ')})`, 'info')
    .action(async (opts: ControlPlaneFlags, cmd: Command) => {
      checkLogLevel(opts.logLevel);
      const tcp = opts.listen
        ? { ...parseHostPort(opts.listen, '--listen'), token: readTokenFile(ctx.tokenFile(cmd), '--listen') }
        : undefined;
      const maxCertTtlSeconds = Number(opts.maxCertTtl);
      if (!Number.isInteger(maxCertTtlSeconds) || maxCertTtlSeconds < 60) throw new FlagError(`--max-cert-ttl must be a whole number of seconds ≥ 60, got "${opts.maxCertTtl}"`);
      const kube = ctx.kube(cmd);
      const stop = untilSignal();
      // Loaded only for this role: CLI verbs start faster without the store, API server and CA modules.
      const { runControlPlane } = await import('./controlplane.js');
      const { parseCaSecretRef } = await import('./ca/ca-secret.js');
      const handle = await runControlPlane({
        dataDir: ctx.dataDir(cmd),
        tcp,
        grpc: parseHostPort(opts.grpcListen, '--grpc-listen', { allowPortZero: true }),
        metrics: opts.metricsListen === 'off' ? undefined : parseHostPort(opts.metricsListen, '--metrics-listen', { allowPortZero: true }),
        trustDomain: opts.trustDomain,
        pluggedCaDir: opts.pluggedCaDir ?? (opts.cacertsDir && existsSync(join(opts.cacertsDir, 'ca-key.pem')) ? opts.cacertsDir : undefined),
        caSecret: opts.caSecret === undefined ? undefined : opts.caSecret === 'off' ? false : parseCaSecretRef(opts.caSecret, '--ca-secret'),
        maxCertTtlSeconds,
        logLevel: opts.logLevel,
        waypoints: {
          selfCommand: ctx.selfCommand,
          image: opts.waypointImage,
          xdsAddress: opts.xdsAdvertiseAddress ? (parseHostPort(opts.xdsAdvertiseAddress, '--xds-advertise-address'), opts.xdsAdvertiseAddress) : undefined,
        },
        kube,
        dashboard: {
          tcp: opts.dashboardListen === 'off' ? false : parseHostPort(opts.dashboardListen, '--dashboard-listen', { allowPortZero: true }),
          prometheusUrl: opts.prometheus,
        },
      });
      const sig = await stop;
      handle.log.info({ signal: sig }, 'stopping');
      await handle.close();
      // Anything still holding the loop (a client's lingering socket) must not keep a stopped control plane alive.
      ctx.exitAfter(2000);
    });
}
