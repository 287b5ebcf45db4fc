// Installs the ambit-cni plugin on a node, as istio-cni's agent does: its executable (the static program this build
// made, native/ambit_cni.c, which needs nothing of the node's host) into the CNI bin dir, and an entry chained after
// the primary plugin into the node's primary conflist (the first *.conflist of the conf dir, in name order, as the
// runtime picks it). Idempotent; both are replaced atomically and only when missing or different.
import { chmodSync, copyFileSync, existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CNI_DEFAULT_EXCLUDED_NAMESPACES, CNI_PLUGIN_TYPE } from '../lib/cni-report.js';

export interface CniInstallConfig {
  confDir: string;
  binDir: string;
  /** The node agent's report socket, written into the plugin's entry. */
  socketPath: string;
  /** The plugin executable to install (platform's cniPluginExecutable()). */
  pluginExecutable: string;
}

/** Installs or refreshes; returns the conflist changed, or undefined while the conf dir has no conflist yet. */
export function installCniPlugin(cfg: CniInstallConfig): string | undefined {
  const installed = join(cfg.binDir, CNI_PLUGIN_TYPE);
  // A runtime may be executing the old file: replace it by rename, never rewrite it in place.
  if (!existsSync(installed) || !readFileSync(installed).equals(readFileSync(cfg.pluginExecutable))) {
    copyFileSync(cfg.pluginExecutable, `${installed}.tmp`);
    chmodSync(`${installed}.tmp`, 0o755);
    renameSync(`${installed}.tmp`, installed);
  }
  chmodSync(installed, 0o755);
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
