// `ambit apply -f FILE|DIR|-`: creates absent objects, updates changed ones, reports each like kubectl.
import type { Command } from 'commander';
import { objectRef } from '../api/meta.js';
import { MAX_REQUEST_BYTES, objectSizeProblem } from '../api/limits.js';
import { ClientError, isNotFound } from '../controlplane/client/index.js';
import { CliError, globalsOf, writeError, type CliContext } from './cli-context.js';
import { manifestToSend, sameAppliedFields } from './apply-diff.js';
import { readManifests } from './manifest-files.js';
import { isNamespaceDoc, manifestTarget, namespacesFirst } from './manifest-target.js';
import { objectName } from './resource-args.js';

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('apply')
    .description('create or update objects from manifests (files, directories or - for stdin)')
    .option('-f, --filename <path>', 'manifest file, directory, or - (repeatable)', collect)
    .option('-R, --recursive', 'process directories recursively', false)
    .action(async (opts: { filename?: string[]; recursive: boolean }, cmd: Command) => {
      if (!opts.filename?.length) throw new CliError('must specify -f FILE|DIR|- (the manifests to apply)');
      const flagNs = globalsOf(cmd).namespace || undefined;
      const set = await readManifests(opts.filename, opts.recursive, ctx.stdin);
      for (const e of set.errors) writeError(ctx, e);
      if (set.errors.length) ctx.exitCode = 1;
      // kubectl's answer to files holding only empty documents (or comments): doing nothing is not success.
      if (set.objects.length === 0 && set.errors.length === 0) throw new CliError(`no objects passed to apply (${opts.filename.join(', ')} held only empty documents or none at all)`);
      const client = ctx.client(cmd);
      for (const raw of namespacesFirst(set.objects, isNamespaceDoc)) {
        const target = manifestTarget(raw, flagNs);
        if (!target.ok) {
          writeError(ctx, target.errors.join('\n'));
          ctx.exitCode = 1;
          continue;
        }
        const desired = manifestToSend(target.object);
        const label = objectName(target.kind, target.name);
        // An object over the request limit would be cut off unread, its name unknown to the server: refuse it here,
        // with the message the server gives any object over the (smaller) object limit.
        const tooLarge = objectSizeProblem(desired, MAX_REQUEST_BYTES) && objectSizeProblem(desired);
        if (tooLarge) {
          writeError(ctx, `${objectRef(desired)}: ${tooLarge.path}: ${tooLarge.reason}`);
          ctx.exitCode = 1;
          continue;
        }
        try {
          let live;
          try {
            live = await client.get(target.kind, target.namespace, target.name);
          } catch (err) {
            if (!isNotFound(err)) throw err;
          }
          if (!live) {
            await client.create(desired);
            ctx.stdout.write(`${label} created\n`);
          } else if (sameAppliedFields(desired, live)) {
            ctx.stdout.write(`${label} unchanged\n`);
          } else {
            desired.metadata.resourceVersion = live.metadata.resourceVersion;
            await client.update(desired);
            ctx.stdout.write(`${label} configured\n`);
          }
        } catch (err) {
          // Without a control plane every object would fail the same way: stop with one message.
          if (!(err instanceof ClientError) || err.code === 'CLIENT_UNREACHABLE') throw err;
          writeError(ctx, err.message);
          ctx.exitCode = 1;
        }
      }
    });
}
