// The `ambit` process entry point (composition root): reads argv/env once, builds the CLI and role verbs, owns exit.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { Command, CommanderError } from 'commander';
import { VERBS, CliError, globalsOf, resolveDataDir, socketPathIn, writeError, type CliContext } from './cli/index.js';
import { ApiClient, type ClientEndpoint } from './controlplane/client/index.js';
import { describeError } from './lib/errors.js';
import { registerSandboxVerbs } from './sandbox/commands.js';
import { registerDemoVerbs } from './sandbox/demo.js';
import { registerNodeAgentVerb } from './nodeagent/command.js';
import { registerZtunnelVerb } from './ztunnel/command.js';
import { untilSignal } from './lib/signals.js';

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

function packageVersion(): string {
  try {
    // dist*/src/main.js → the repository's package.json.
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** `host:port` or `[v6]:port` → parts; a CliError naming the flag otherwise. */
function parseHostPort(value: string, flag: string, opts: { allowPortZero?: boolean } = {}): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  const min = opts.allowPortZero ? 0 : 1;
  if (!m || port < min || port > 65535) throw new CliError(`${flag} must be HOST:PORT (e.g. 127.0.0.1:15014), got "${value}"`);
  return { host: m[1] ?? m[2]!, port };
}

function readToken(file: string | undefined, flag: string): string {
  if (!file) throw new CliError(`${flag} needs --token-file FILE (the bearer token clients must present)`);
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new CliError(`cannot read the token file ${file}: ${(err as Error).message}`);
  }
  if (!token) throw new CliError(`the token file ${file} is empty`);
  return token;
}

function makeContext(): CliContext & { dispose(): void } {
  let client: ApiClient | undefined;
  const envDataDir = process.env.AMBIT_DATA_DIR;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const dataDir = (cmd: Command): string => resolveDataDir({ flag: globalsOf(cmd).dataDir, env: envDataDir, isRoot, homeDir: homedir() });
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    clientVersion: packageVersion(),
    now: () => Date.now(),
    exitCode: 0,
    dataDir,
    client(cmd: Command): ApiClient {
      if (client) return client;
      const g = globalsOf(cmd);
      const endpoint: ClientEndpoint = g.server
        ? { ...parseHostPort(g.server, '--server'), token: readToken(g.tokenFile, '--server') }
        : { socketPath: socketPathIn(dataDir(cmd)) };
      client = new ApiClient({ endpoint });
      return client;
    },
    dispose() {
      client?.close();
    },
  };
}


interface ControlPlaneFlags {
  listen?: string;
  grpcListen: string;
  metricsListen: string;
  trustDomain: string;
  pluggedCaDir?: string;
  maxCertTtl: string;
  logLevel: string;
}

function registerControlPlane(program: Command, ctx: CliContext): void {
  program
    .command('controlplane')
    .description('run the control plane: config store and REST API (until SIGTERM/SIGINT)')
    .option('--listen <host:port>', 'also serve the API on TCP (requires --token-file)')
    .option('--grpc-listen <host:port>', 'CA gRPC service (TLS); port 0 picks a free one', '127.0.0.1:15012')
    .option('--metrics-listen <host:port|off>', 'Prometheus metrics over HTTP (/metrics)', '127.0.0.1:15014')
    .option('--trust-domain <domain>', 'SPIFFE trust domain of issued identities', 'cluster.local')
    .option('--plugged-ca-dir <dir>', "act as an intermediate CA from Istio's cacerts layout (ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem)")
    .option('--max-cert-ttl <seconds>', 'upper bound on issued certificate lifetimes', '86400')
    .option('--log-level <level>', `log level (${LOG_LEVELS.join(', ')})`, 'info')
    .action(async (opts: ControlPlaneFlags, cmd: Command) => {
      if (!LOG_LEVELS.includes(opts.logLevel)) throw new CliError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${opts.logLevel}"`);
      const tcp = opts.listen
        ? { ...parseHostPort(opts.listen, '--listen'), token: readToken(globalsOf(cmd).tokenFile, '--listen') }
        : undefined;
      const maxCertTtlSeconds = Number(opts.maxCertTtl);
      if (!Number.isInteger(maxCertTtlSeconds) || maxCertTtlSeconds < 60) throw new CliError(`--max-cert-ttl must be a whole number of seconds ≥ 60, got "${opts.maxCertTtl}"`);
      const stop = untilSignal();
      // Loaded only for this role: CLI verbs start faster without the store, API server and CA modules.
      const { runControlPlane } = await import('./controlplane/index.js');
      const handle = await runControlPlane({
        dataDir: ctx.dataDir(cmd),
        tcp,
        grpc: parseHostPort(opts.grpcListen, '--grpc-listen', { allowPortZero: true }),
        metrics: opts.metricsListen === 'off' ? undefined : parseHostPort(opts.metricsListen, '--metrics-listen', { allowPortZero: true }),
        trustDomain: opts.trustDomain,
        pluggedCaDir: opts.pluggedCaDir,
        maxCertTtlSeconds,
        logLevel: opts.logLevel,
      });
      const sig = await stop;
      handle.log.info({ signal: sig }, 'stopping');
      await handle.close();
      // Anything still holding the loop (a client's lingering socket) must not keep a stopped control plane alive.
      setTimeout(() => process.exit(0), 2000).unref();
    });
}

function buildProgram(ctx: CliContext): Command {
  const program = new Command('ambit');
  program
    .description('Ambit: an ambient (sidecar-less) service mesh speaking Istio APIs')
    .version(ctx.clientVersion, '--version', 'print the client version')
    .option('--data-dir <dir>', 'control plane data dir (default: $AMBIT_DATA_DIR, /var/lib/ambit as root, else ~/.ambit)')
    .option('-n, --namespace <ns>', 'namespace to work in (default "default")')
    .option('--server <host:port>', 'reach the control plane over TCP instead of its Unix socket')
    .option('--token-file <file>', 'bearer token for --server (and for `controlplane --listen`)')
    .showSuggestionAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    });
  for (const verb of VERBS) verb.register(program, ctx);
  registerControlPlane(program, ctx);
  registerSandboxVerbs(program, ctx);
  registerDemoVerbs(program, ctx);
  registerNodeAgentVerb(program, ctx);
  registerZtunnelVerb(program, ctx);
  return program;
}

async function main(argv: string[]): Promise<number> {
  const ctx = makeContext();
  try {
    await buildProgram(ctx).parseAsync(argv);
    return ctx.exitCode;
  } catch (err) {
    // Commander has already printed its own one-line message (or the help text).
    if (err instanceof CommanderError) return err.exitCode;
    writeError(ctx, describeError(err));
    return 1;
  } finally {
    ctx.dispose();
  }
}

// `ambit get … | head` closes our stdout early: that is not an error worth a message.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
});
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (err: unknown) => {
    process.stderr.write(`error: ${describeError(err)}\n`);
    process.exit(1);
  });
}

main(process.argv).then((code) => {
  process.exitCode = code;
});

