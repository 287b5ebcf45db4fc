// The `ambit` process entry point (composition root): reads argv/env once, builds the CLI and role verbs, owns exit.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { Command, CommanderError } from 'commander';
import { globalsOf, writeError, type CliContext } from './cli/cli-context.js';
import { resolveDataDir, socketPathIn } from './cli/data-dir.js';
import { ApiClient, type ClientEndpoint, type KubeEndpoint } from './controlplane/client/index.js';
import { inClusterEndpoint, loadKubeconfig } from './controlplane/client/kubeconfig.js';
import { describeError } from './lib/errors.js';
import { parseHostPort, readTokenFile } from './lib/flags.js';

function packageVersion(): string {
  try {
    // dist*/src/main.js → the repository's package.json.
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** The Kubernetes API server the global flags name (--kubeconfig or --in-cluster), if any. */
function kubeEndpointOf(cmd: Command): KubeEndpoint | undefined {
  const g = globalsOf(cmd);
  if (g.inCluster) return inClusterEndpoint(process.env.KUBERNETES_SERVICE_HOST, process.env.KUBERNETES_SERVICE_PORT);
  return g.kubeconfig ? loadKubeconfig(g.kubeconfig, g.context) : undefined;
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
      const kube = kubeEndpointOf(cmd);
      const endpoint: ClientEndpoint = kube
        ? { kube }
        : g.server
          ? { ...parseHostPort(g.server, '--server'), token: readTokenFile(g.tokenFile, '--server') }
          : { socketPath: socketPathIn(dataDir(cmd)) };
      client = new ApiClient({ endpoint });
      return client;
    },
    openBrowser(url: string): boolean {
      // Only where a desktop session can show it; a server or CI has none, and the URL is printed anyway.
      if (!process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return false;
      try {
        const child = spawn('xdg-open', [url], { detached: true, stdio: 'ignore' });
        child.on('error', () => undefined);
        child.unref();
        return true;
      } catch {
        return false;
      }
    },
    dispose() {
      client?.close();
    },
  };
}


/** Global options that take a value (the word after them is not the verb). */
const VALUE_OPTIONS = new Set(['--data-dir', '-n', '--namespace', '--server', '--token-file', '--kubeconfig', '--context']);

/**
 * The long-running data-path roles, which load only their own module: every MiB of a ztunnel or waypoint counts
 * (the CLI's verbs, the sandbox and the CA's X.509 library would otherwise cost each such process ~10 MiB).
 */
function proxyRoleOf(argv: readonly string[]): 'ztunnel' | 'nodeagent' | 'waypoint run' | undefined {
  const words: string[] = [];
  for (let i = 2; i < argv.length && words.length < 2; i++) {
    const a = argv[i]!;
    if (a.startsWith('-')) {
      if (VALUE_OPTIONS.has(a)) i++;
      continue;
    }
    words.push(a);
  }
  if (words[0] === 'ztunnel' || words[0] === 'nodeagent') return words[0];
  return words[0] === 'waypoint' && words[1] === 'run' ? 'waypoint run' : undefined;
}

async function buildProgram(ctx: CliContext, argv: readonly string[]): Promise<Command> {
  const program = new Command('ambit');
  program
    .description('Ambit: an ambient (sidecar-less) service mesh speaking Istio APIs')
    .version(ctx.clientVersion, '--version', 'print the client version')
    .option('--data-dir <dir>', 'control plane data dir (default: $AMBIT_DATA_DIR, /var/lib/ambit as root, else ~/.ambit)')
    .option('-n, --namespace <ns>', 'namespace to work in (default "default")')
    .option('--server <host:port>', 'reach the control plane over TCP instead of its Unix socket')
    .option('--token-file <file>', 'bearer token file: for --server and `controlplane --listen`; for ztunnel and waypoints, the service-account token (audience istio-ca) they authenticate to the control plane with')
    .option('--kubeconfig <file>', 'talk to this Kubernetes API server (the control plane: take config from it)')
    .option('--context <name>', "the kubeconfig context to use (default: its current-context)")
    .option('--in-cluster', "talk to the Kubernetes API server of the pod this runs in (its service-account token)")
    .showSuggestionAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    });
  const role = proxyRoleOf(argv);
  const waypointRole = async () => (await import('./waypoint/command.js')).registerWaypointVerb(program, {
    dataDir: ctx.dataDir,
    namespace: (cmd) => globalsOf(cmd).namespace,
    podEnv: { nodeName: process.env.NODE_NAME, podIp: process.env.POD_IP },
  });
  const nodeAgentRole = async () => (await import('./nodeagent/command.js')).registerNodeAgentVerb(program, { dataDir: ctx.dataDir, client: (cmd) => ctx.client(cmd) });
  const ztunnelRole = async () => (await import('./ztunnel/command.js')).registerZtunnelVerb(program, ctx);
  if (role === 'ztunnel') await ztunnelRole();
  else if (role === 'nodeagent') await nodeAgentRole();
  else if (role === 'waypoint run') await waypointRole();
  else {
    for (const verb of (await import('./cli/index.js')).VERBS) verb.register(program, ctx);
    (await import('./controlplane/command.js')).registerControlPlaneVerb(program, {
      dataDir: ctx.dataDir, tokenFile: (cmd) => globalsOf(cmd).tokenFile,
      kube: kubeEndpointOf,
      exitAfter: (ms) => setTimeout(() => process.exit(0), ms).unref(), selfCommand: [process.execPath, process.argv[1] ?? ''],
    });
    (await import('./sandbox/commands.js')).registerSandboxVerbs(program, ctx);
    (await import('./sandbox/demo.js')).registerDemoVerbs(program, ctx);
    await nodeAgentRole();
    await ztunnelRole();
    await waypointRole();
  }
  return program;
}

async function main(argv: string[]): Promise<number> {
  const ctx = makeContext();
  try {
    await (await buildProgram(ctx, argv)).parseAsync(argv);
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

