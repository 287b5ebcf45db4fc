// `ambit label KIND NAME k=v… k-… [--overwrite]`: changes labels with a merge patch, refusing silent overwrites.
import type { Command } from 'commander';
import { ClientError, isNotFound } from '../controlplane/client/index.js';
import { CliError, namespaceOf, writeError, type CliContext } from './cli-context.js';
import { applyLabelChanges, isLabelSpec, labelOutcome, overwriteError, parseLabelSpecs } from './label-args.js';
import { notFoundMessage, objectName, parseResourceArgs } from './resource-args.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('label')
    .description('add, change (--overwrite) or remove (key-) labels of objects')
    .argument('<args...>', 'KIND NAME… (or KIND/NAME…) followed by key=value and key- changes')
    .option('--overwrite', 'allow changing labels that already have a value', false)
    .action(async (args: string[], opts: { overwrite: boolean }, cmd: Command) => {
      const firstLabel = args.findIndex(isLabelSpec);
      if (firstLabel < 0) throw new CliError('at least one label update is required');
      if (args.slice(firstLabel).some((a) => !isLabelSpec(a))) throw new CliError('label changes must follow the resource names');
      const changes = parseLabelSpecs(args.slice(firstLabel));
      const requests = parseResourceArgs(args.slice(0, firstLabel));
      const ns = namespaceOf(cmd);
      const client = ctx.client(cmd);
      for (const r of requests) {
        if (r.names.length === 0) throw new CliError('resource(s) were provided, but no name was specified');
        const namespace = r.kind.namespaced ? ns : undefined;
        for (const name of r.names) {
          try {
            const live = await client.get(r.kind, namespace, name);
            const refusal = opts.overwrite ? undefined : overwriteError(live.metadata.labels, changes);
            if (refusal) {
              writeError(ctx, refusal);
              ctx.exitCode = 1;
              continue;
            }
            const { patch } = applyLabelChanges(live.metadata.labels, changes);
            if (Object.keys(patch).length > 0) {
              // Carrying the resourceVersion makes the patch fail (409) instead of racing a concurrent writer.
              await client.patch(r.kind, namespace, name, { metadata: { labels: patch, resourceVersion: live.metadata.resourceVersion } });
            }
            ctx.stdout.write(`${objectName(r.kind, name)} ${labelOutcome(changes, patch)}\n`);
          } catch (err) {
            if (!(err instanceof ClientError) || err.code === 'CLIENT_UNREACHABLE') throw err;
            writeError(ctx, isNotFound(err) ? notFoundMessage(r.kind, name) : err.message);
            ctx.exitCode = 1;
          }
        }
      }
    });
}
