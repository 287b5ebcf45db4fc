// `ambit version`: this CLI's version and, unless --client, the control plane's.
import type { Command } from 'commander';
import type { CliContext } from './cli-context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('version')
    .description("print the client's and the control plane's versions")
    .option('--client', 'only the client version (no control plane needed)', false)
    .action(async (opts: { client: boolean }, cmd: Command) => {
      ctx.stdout.write(`Client Version: ${ctx.clientVersion}\n`);
      if (opts.client) return;
      const server = await ctx.client(cmd).version();
      ctx.stdout.write(`Server Version: ${server.ambit}\n`);
    });
}
