// `ambit cni-plugin` (hidden): the executable body of the `ambit-cni` CNI plugin; the container runtime runs the
// shim the node agent installs in the CNI bin dir, which execs this with the CNI environment and stdin.
import type { Command } from 'commander';
import { runCniPlugin } from './cni-plugin.js';

interface CniVerbContext {
  /** The process environment (only the composition root reads it). */
  env: Readonly<Record<string, string | undefined>>;
  readStdin(): Promise<string>;
  write(text: string): void;
  setExitCode(code: number): void;
}

export function registerCniPluginVerb(program: Command, ctx: CniVerbContext): void {
  program
    .command('cni-plugin', { hidden: true })
    .description('the ambit-cni chained CNI plugin (run by the container runtime)')
    .action(async () => {
      const outcome = await runCniPlugin({ env: ctx.env, stdin: await ctx.readStdin() });
      ctx.write(outcome.stdout);
      ctx.setExitCode(outcome.code);
    });
}
