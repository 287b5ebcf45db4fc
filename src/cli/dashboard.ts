// `ambit dashboard`: opens the mesh dashboard the control plane serves. It forwards a local port (127.0.0.1:20001,
// Kiali's, unless told otherwise) to the control plane's `<dataDir>/dashboard.sock`, prints the URL and opens the
// browser when there is a desktop. `--prometheus URL` first tells the control plane to read metrics from that
// Prometheus (`--embedded` goes back to its own scrapes); `--scrape-config` prints the Prometheus scrape config
// that finds every ztunnel and waypoint through the dashboard's HTTP service discovery, and exits.
import { existsSync } from 'node:fs';
import net from 'node:net';
import type { Command } from 'commander';
import { DASHBOARD_SETTINGS_PATH, SCRAPE_INTERVAL_SECONDS, dashboardSocketPath } from '../lib/dashboard-contract.js';
import { parseHostPort } from '../lib/flags.js';
import { PORT_DASHBOARD } from '../lib/mesh-contract.js';
import { untilSignal } from '../lib/signals.js';
import { spliceSockets } from '../lib/socket-splice.js';
import { CliError, globalsOf, type CliContext } from './cli-context.js';


interface DashboardFlags {
  address: string;
  port: string;
  prometheus?: string;
  embedded?: boolean;
  scrapeConfig?: boolean;
  browser: boolean;
}

/** The Prometheus config that scrapes what the dashboard scrapes (exported for tests). */
export function scrapeConfig(dashboardUrl: string): string {
  return [
    '# Prometheus scrape config for the Ambit mesh: every connected ztunnel and waypoint on :15020/stats/prometheus,',
    '# found through the dashboard\'s HTTP service discovery. Prometheus must reach the proxies\' addresses: in the',
    '# sandbox, run it in the cluster\'s fabric network namespace (ip netns exec <cluster>.fabric prometheus ...).',
    'global:',
    `  scrape_interval: ${SCRAPE_INTERVAL_SECONDS}s`,
    'scrape_configs:',
    '  - job_name: ambit-proxies',
    '    metrics_path: /stats/prometheus',
    '    http_sd_configs:',
    `      - url: ${dashboardUrl.replace(/\/$/, '')}/api/prometheus/targets`,
    '        refresh_interval: 15s',
    '',
  ].join('\n');
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('dashboard')
    .description('open the mesh dashboard (service graph, security, live decisions, config validation) on a local port')
    .option('--address <ip>', 'local address to listen on', '127.0.0.1')
    .option('--port <port>', 'local port (0 picks a free one)', String(PORT_DASHBOARD))
    .option('--prometheus <url>', 'read metrics from this Prometheus (PromQL) instead of the control plane\'s own scrapes')
    .option('--embedded', 'go back to the control plane\'s own scrapes')
    .option('--scrape-config', 'print the Prometheus scrape config for the mesh\'s proxies and exit')
    .option('--no-browser', 'only print the URL')
    .action(async (opts: DashboardFlags, cmd: Command) => {
      if (opts.prometheus && opts.embedded) throw new CliError('--prometheus and --embedded contradict each other: pick one');
      if (globalsOf(cmd).server || ctx.client(cmd).isKube) {
        throw new CliError('ambit dashboard forwards to the control plane\'s socket under --data-dir; with a control plane in Kubernetes, use `kubectl -n istio-system port-forward deploy/ambit-controlplane 20001`');
      }
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port: '${opts.port}' is not a port number`);
      parseHostPort(`${opts.address.includes(':') ? `[${opts.address}]` : opts.address}:${port}`, '--address', { allowPortZero: true });
      if (opts.prometheus || opts.embedded) {
        const r = (await ctx.client(cmd).requestJson('PUT', DASHBOARD_SETTINGS_PATH, { prometheus: opts.prometheus ?? null })) as { metricsSource?: string };
        // With --scrape-config stdout is the config (for a file or a pipe); the note goes to stderr.
        (opts.scrapeConfig ? ctx.stderr : ctx.stdout).write(`metrics source: ${r.metricsSource ?? 'unknown'}\n`);
      }
      if (opts.scrapeConfig) {
        ctx.stdout.write(scrapeConfig(`http://127.0.0.1:${PORT_DASHBOARD}`));
        return;
      }
      const socketPath = dashboardSocketPath(ctx.dataDir(cmd));
      if (!existsSync(socketPath)) throw new CliError(`no dashboard socket at ${socketPath}: is a control plane running with this --data-dir (ambit cluster create, or ambit controlplane)?`);
      const tracked = new Set<net.Socket>();
      const server = net.createServer((client) => {
        tracked.add(client);
        client.on('close', () => tracked.delete(client));
        client.pause();
        const upstream = net.connect(socketPath);
        upstream.on('connect', () => spliceSockets(client, upstream, tracked));
        upstream.on('error', () => client.destroy());
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) => reject(new CliError(err.code === 'EADDRINUSE'
          ? `${opts.address}:${port} is in use (another ambit dashboard?): pick another with --port`
          : `cannot listen on ${opts.address}:${port}: ${err.message}`)));
        server.listen(port, opts.address, () => resolve());
      });
      const bound = (server.address() as net.AddressInfo).port;
      const url = `http://${opts.address.includes(':') ? `[${opts.address}]` : opts.address}:${bound}/`;
      const opened = opts.browser && ctx.openBrowser?.(url);
      ctx.stdout.write(`Dashboard: ${url}${opened ? ' (opened in your browser)' : ''}\nForwarding to ${socketPath}; press Ctrl-C to stop.\n`);
      await untilSignal();
      server.close();
      for (const s of tracked) s.destroy();
    });
}
