// The `ambit` process entry point (composition root): reads argv/env once, builds the CLI and role verbs, owns exit.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { Command, CommanderError } from 'commander';
import { VERBS, globalsOf, resolveDataDir, socketPathIn, writeError, type CliContext } from './cli/index.js';
import { ApiClient, type ClientEndpoint, type KubeEndpoint } from './controlplane/client/index.js';
import { inClusterEndpoint, loadKubeconfig } from './controlplane/client/kubeconfig.js';
import { describeError } from './lib/errors.js';
import { registerSandboxVerbs } from './sandbox/commands.js';
import { registerDemoVerbs } from './sandbox/demo.js';
import { registerNodeAgentVerb } from './nodeagent/command.js';
import { registerZtunnelVerb } from './ztunnel/command.js';
import { registerWaypointVerb } from './waypoint/command.js';
import { parseHostPort, readTokenFile } from './lib/flags.js';
import { registerControlPlaneVerb } from './controlplane/command.js';

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
    dispose() {
      client?.close();
    },
  };
}


function buildProgram(ctx: CliContext): Command {
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
  for (const verb of VERBS) verb.register(program, ctx);
  registerControlPlaneVerb(program, {
    dataDir: ctx.dataDir, tokenFile: (cmd) => globalsOf(cmd).tokenFile,
    kube: kubeEndpointOf,
    exitAfter: (ms) => setTimeout(() => process.exit(0), ms).unref(), selfCommand: [process.execPath, process.argv[1] ?? ''],
  });
  registerSandboxVerbs(program, ctx);
  registerDemoVerbs(program, ctx);
  registerNodeAgentVerb(program, { dataDir: ctx.dataDir, client: (cmd) => ctx.client(cmd) });
  registerZtunnelVerb(program, ctx);
  registerWaypointVerb(program, {
    dataDir: ctx.dataDir,
    namespace: (cmd) => globalsOf(cmd).namespace,
    podEnv: { nodeName: process.env.NODE_NAME, podIp: process.env.POD_IP },
  });
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

