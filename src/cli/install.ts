// `ambit install --print-crds`: the CustomResourceDefinitions of every Istio and Gateway API kind Ambit serves, for
// `kubectl apply -f -` before `ambit controlplane --kubeconfig` starts (it lists every kind it mirrors).
import type { Command } from 'commander';
import { customResourceDefinitions, toYaml } from '../api/index.js';
import type { CliContext } from './cli-context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('install')
    .description("print what Ambit needs in a Kubernetes cluster (today: its CRDs, with --print-crds)")
    .requiredOption('--print-crds', 'print the CRDs of every Istio and Gateway API kind Ambit serves, as YAML')
    .action(() => {
      ctx.stdout.write(toYaml(customResourceDefinitions()));
    });
}
