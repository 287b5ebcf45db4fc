// `ambit nodeagent --node N`: runs one node's agent until SIGTERM/SIGINT (started by the sandbox supervisor).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { createLogger } from '../lib/log.js';
import { NodeAgent, NodeAgentError, type NodeAgentApi } from './node-agent.js';
import { NODE_AGENT_USER_AGENT } from '../lib/watch-clients.js';
import { untilSignal } from '../lib/signals.js';
import { defaultZdsSocketPath } from '../lib/mesh-contract.js';
import { LOG_LEVELS, checkLogLevel } from '../lib/flags.js';
import { cniPluginExecutable } from '../platform/index.js';

const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** What the verb needs from the composition root (the CLI context satisfies it structurally). */
interface NodeAgentVerbContext {
  dataDir(cmd: Command): string;
  client(cmd: Command): NodeAgentApi & { identifyAs(userAgent: string): void };
}

export function registerNodeAgentVerb(program: Command, ctx: NodeAgentVerbContext): void {
  program
    .command('nodeagent')
    .description('run a node agent: in-pod capture rules for enrolled pods, ZDS hand-off to ztunnel (until SIGTERM/SIGINT)')
    .requiredOption('--node <name>', 'the node whose pods this agent captures')
    .option('--zds-socket <path>', 'ZDS listener path (default <data-dir>/nodes/<node>/zds.sock)')
    .option('--repair-interval <seconds>', 'how often installed rules are checked for drift', '5')
    .option('--cni-socket <path>', 'learn pod netns from the ambit-cni chained plugin reporting on this socket (Kubernetes), not from annotations')
    .option('--cni-conf-dir <dir>', 'where the primary CNI conflist is, to chain ambit-cni into', '/etc/cni/net.d')
    .option('--cni-bin-dir <dir>', 'where CNI plugin executables live, to install ambit-cni into', '/opt/cni/bin')
    .option('--log-level <level>', `log level (${LOG_LEVELS.join(', ')})`, 'info')
    .action(async (opts: { node: string; zdsSocket?: string; repairInterval: string; logLevel: string; cniSocket?: string; cniConfDir: string; cniBinDir: string }, cmd: Command) => {
      if (!NODE_NAME.test(opts.node)) throw new NodeAgentError(`--node must be a node name (a DNS-1123 subdomain), got "${opts.node}"`);
      checkLogLevel(opts.logLevel);
      const seconds = Number(opts.repairInterval);
      if (!Number.isFinite(seconds) || seconds < 0.1 || seconds > 3600) {
        throw new NodeAgentError(`--repair-interval must be a number of seconds from 0.1 to 3600, got "${opts.repairInterval}"`);
      }
      const dataDir = ctx.dataDir(cmd);
      const zdsSocketPath = opts.zdsSocket ?? defaultZdsSocketPath(dataDir, opts.node);
      mkdirSync(join(zdsSocketPath, '..'), { recursive: true, mode: 0o700 });
      const log = createLogger('nodeagent', { level: opts.logLevel }).child({ node: opts.node });
      const stop = untilSignal();
      const api = ctx.client(cmd);
      // Named so the control plane can list this agent's watches (`ambit proxy-status`).
      api.identifyAs(`${NODE_AGENT_USER_AGENT}${opts.node}`);
      const cni = opts.cniSocket ? { socketPath: opts.cniSocket, confDir: opts.cniConfDir, binDir: opts.cniBinDir, pluginExecutable: cniPluginExecutable() } : undefined;
      const agent = new NodeAgent({ nodeName: opts.node, api, zdsSocketPath, log, repairIntervalMs: Math.round(seconds * 1000), cni });
      const sig = await stop;
      log.info({ signal: sig }, 'stopping');
      await agent.stop();
    });
}
