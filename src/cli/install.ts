// `ambit install` / `ambit uninstall` (like `istioctl install`): the objects of install-objects.ts (the same the Helm
// chart renders) applied to the cluster of the global --kubeconfig with server-side apply (field manager `ambit`),
// or printed (`--dry-run`, `--print-crds`). Uninstall deletes them in reverse order; CRDs (and so every Istio and
// Gateway API object users wrote) only with --purge.
import type { Command } from 'commander';
import { customResourceDefinitions, toYaml } from '../api/index.js';
import type { ApiClient } from '../controlplane/client/index.js';
import { ClientError, applyInstall, describeObject, installObjectPath } from '../controlplane/client/index.js';
import { CliError, globalsOf, type CliContext } from './cli-context.js';
import { CA_SECRET_NAME, DEFAULT_INSTALL, installObjects, type InstallOptions } from '../api/index.js';

interface InstallFlags {
  printCrds?: boolean;
  dryRun?: boolean;
  image?: string;
  trustDomain: string;
  logLevel: string;
}

function kubeClient(ctx: CliContext, cmd: Command, verb: string): ApiClient {
  const api = ctx.client(cmd);
  if (!api.isKube) throw new CliError(`${verb} needs a Kubernetes cluster: pass --kubeconfig <file> (or --in-cluster); to see what it would apply, add --dry-run`);
  return api;
}

function optionsOf(opts: InstallFlags, cmd: Command, version: string): InstallOptions {
  return {
    namespace: globalsOf(cmd).namespace || DEFAULT_INSTALL.namespace,
    image: opts.image ?? `ambit/ambit:${version}`,
    trustDomain: opts.trustDomain,
    logLevel: opts.logLevel,
  };
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('install')
    .description('install Ambit into the Kubernetes cluster of --kubeconfig (CRDs, control plane, ztunnel and node agent), with server-side apply')
    .option('--print-crds', 'only print the CRDs of every Istio and Gateway API kind Ambit serves, as YAML')
    .option('--dry-run', 'print every object (the Helm chart in manifests/ambit renders the same) instead of applying')
    .option('--image <ref>', 'the Ambit image (default ambit/ambit:<this version>)')
    .option('--trust-domain <domain>', 'SPIFFE trust domain of issued identities', DEFAULT_INSTALL.trustDomain)
    .option('--log-level <level>', 'log level of every component', DEFAULT_INSTALL.logLevel)
    .action(async (opts: InstallFlags, cmd: Command) => {
      if (opts.printCrds) {
        ctx.stdout.write(toYaml(customResourceDefinitions()));
        return;
      }
      const o = optionsOf(opts, cmd, ctx.clientVersion);
      const objects = installObjects(o);
      if (opts.dryRun) {
        ctx.stdout.write(toYaml(objects));
        return;
      }
      const api = kubeClient(ctx, cmd, 'install');
      try {
        await applyInstall(api, o.namespace, objects, (obj) => ctx.stdout.write(`${describeObject(obj)} applied\n`));
      } catch (err) {
        throw new CliError(`install: ${(err as Error).message}`, { cause: err });
      }
      ctx.stdout.write(`Ambit installed in namespace ${o.namespace}; label a namespace istio.io/dataplane-mode=ambient to enrol it\n`);
    });

  program
    .command('uninstall')
    .description('remove what `ambit install` applied (CRDs, and with them every Istio and Gateway API object, only with --purge)')
    .option('--purge', 'also delete the CRDs and so every AuthorizationPolicy, HTTPRoute, … in the cluster, and the CA root Secret')
    .action(async (opts: { purge?: boolean }, cmd: Command) => {
      const api = kubeClient(ctx, cmd, 'uninstall');
      const objects = installObjects(optionsOf({ trustDomain: DEFAULT_INSTALL.trustDomain, logLevel: DEFAULT_INSTALL.logLevel }, cmd, ctx.clientVersion))
        .filter((o) => opts.purge || o.kind !== 'CustomResourceDefinition')
        .reverse();
      for (const obj of objects) {
        try {
          await api.requestJson('DELETE', installObjectPath(obj));
          ctx.stdout.write(`${describeObject(obj)} deleted\n`);
        } catch (err) {
          if (err instanceof ClientError && err.status === 404) continue;
          throw new CliError(`uninstall: ${describeObject(obj)}: ${(err as Error).message}`, { cause: err });
        }
      }
      if (!opts.purge) return;
      // The self-managed CA root: kept by a plain uninstall (a reinstall keeps trusting the same root), gone on purge.
      const ns = globalsOf(cmd).namespace || DEFAULT_INSTALL.namespace;
      try {
        await api.requestJson('DELETE', `/api/v1/namespaces/${ns}/secrets/${CA_SECRET_NAME}`);
        ctx.stdout.write(`secret/${CA_SECRET_NAME} deleted\n`);
      } catch (err) {
        if (!(err instanceof ClientError && err.status === 404)) throw new CliError(`uninstall: secret/${CA_SECRET_NAME}: ${(err as Error).message}`, { cause: err });
      }
    });
}
