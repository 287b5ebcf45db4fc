// Installs the ambit-cni plugin on a node, as istio-cni's agent does: its executable (a shim that runs this build's
// `ambit cni-plugin`) into the CNI bin dir, and an entry chained after the primary plugin into the node's primary
// conflist (the first *.conflist of the conf dir, in name order, as the runtime picks it). Idempotent; the conflist
// is rewritten atomically and only when the entry is missing or differs.
import { chmodSync, existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CNI_DEFAULT_EXCLUDED_NAMESPACES, CNI_PLUGIN_TYPE } from '../lib/cni-report.js';

export interface CniInstallConfig {
  confDir: string;
  binDir: string;
  /** The node agent's report socket, written into the plugin's entry. */
  socketPath: string;
  /** argv that runs this `ambit` build (node + main.js). */
  selfCommand: readonly string[];
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Installs or refreshes; returns the conflist changed, or undefined while the conf dir has no conflist yet. */
export function installCniPlugin(cfg: CniInstallConfig): string | undefined {
  const shim = join(cfg.binDir, CNI_PLUGIN_TYPE);
  const script = `#!/bin/sh\n# Installed by the Ambit node agent: the ambit-cni chained plugin.\nexec ${cfg.selfCommand.map(shellQuote).join(' ')} cni-plugin\n`;
  if (!existsSync(shim) || readFileSync(shim, 'utf8') !== script) {
    writeFileSync(`${shim}.tmp`, script, { mode: 0o755 });
    renameSync(`${shim}.tmp`, shim);
  }
  chmodSync(shim, 0o755);
  const primary = existsSync(cfg.confDir) ? readdirSync(cfg.confDir).filter((f) => f.endsWith('.conflist')).sort()[0] : undefined;
  if (!primary) return undefined;
  const path = join(cfg.confDir, primary);
  const text = readFileSync(path, 'utf8');
  const conf = JSON.parse(text) as { plugins?: Array<Record<string, unknown>> };
  const entry = { type: CNI_PLUGIN_TYPE, nodeAgentSocket: cfg.socketPath, excludeNamespaces: [...CNI_DEFAULT_EXCLUDED_NAMESPACES] };
  const plugins = (conf.plugins ?? []).filter((p) => p['type'] !== CNI_PLUGIN_TYPE);
  const next = `${JSON.stringify({ ...conf, plugins: [...plugins, entry] }, null, 2)}\n`;
  if (next !== text) {
    writeFileSync(`${path}.tmp`, next);
    renameSync(`${path}.tmp`, path);
  }
  return path;
}
