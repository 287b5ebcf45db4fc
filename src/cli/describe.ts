// `ambit describe KIND NAME…`: a readable, kubectl-style view of objects, their metadata, spec and conditions.
import type { Command } from 'commander';
import { ClientError, isNotFound } from '../controlplane/client/index.js';
import { CliError, namespaceOf, writeError, type CliContext } from './cli-context.js';
import { describeObject } from './describe-format.js';
import { notFoundMessage, parseResourceArgs } from './resource-args.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('describe')
    .description('show the details of objects: metadata, spec, status conditions')
    .argument('<args...>', 'KIND NAME… or KIND/NAME…')
    .option('-l, --selector <selector>', 'describe every object matching this label selector')
    .action(async (args: string[], opts: { selector?: string }, cmd: Command) => {
      const requests = parseResourceArgs(args);
      const ns = namespaceOf(cmd);
      const client = ctx.client(cmd);
      const texts: string[] = [];
      for (const r of requests) {
        const namespace = r.kind.namespaced ? ns : undefined;
        if (r.names.length === 0) {
          if (opts.selector === undefined) throw new CliError('you must specify the name of the object to describe (or -l SELECTOR)');
          const list = await client.list(r.kind, { namespace, labelSelector: opts.selector || undefined });
          texts.push(...list.items.map(describeObject));
          continue;
        }
        for (const name of r.names) {
          try {
            texts.push(describeObject(await client.get(r.kind, namespace, name)));
          } catch (err) {
            if (!(err instanceof ClientError) || err.code === 'CLIENT_UNREACHABLE') throw err;
            writeError(ctx, isNotFound(err) ? notFoundMessage(r.kind, name) : err.message);
            ctx.exitCode = 1;
          }
        }
      }
      ctx.stdout.write(texts.join('\n\n'));
      if (texts.length === 0 && opts.selector !== undefined) ctx.stderr.write(`No resources found in ${ns} namespace.\n`);
    });
}
