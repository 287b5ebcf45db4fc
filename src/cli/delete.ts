// `ambit delete -f …` or `ambit delete KIND NAME…|--all|-l SEL`: removes objects, one `kind/name deleted` line each.
import type { Command } from 'commander';
import type { KindInfo } from '../api/registry.js';
import { ClientError, isNotFound } from '../controlplane/client/index.js';
import { CliError, globalsOf, namespaceOf, writeError, type CliContext } from './cli-context.js';
import { readManifests } from './manifest-files.js';
import { isNamespaceDoc, manifestTarget } from './manifest-target.js';
import { notFoundMessage, objectName, parseResourceArgs } from './resource-args.js';

interface DeleteOptions {
  filename: string[];
  recursive: boolean;
  ignoreNotFound: boolean;
  all: boolean;
  selector?: string;
}

interface Doomed {
  kind: KindInfo;
  namespace: string | undefined;
  name: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('delete')
    .description('delete objects by file, or by kind and name, --all or label selector')
    .argument('[resources...]', 'KIND NAME… or KIND/NAME…')
    .option('-f, --filename <path>', 'manifest file, directory, or - (repeatable)', collect, [])
    .option('-R, --recursive', 'process directories recursively', false)
    .option('--ignore-not-found', 'treat "not found" as success', false)
    .option('--all', 'delete every object of the kind in the namespace', false)
    .option('-l, --selector <selector>', 'delete the objects matching this label selector')
    .action(async (args: string[], opts: DeleteOptions, cmd: Command) => {
      const doomed: Doomed[] = [];
      if (opts.filename.length) {
        if (args.length) throw new CliError('give either -f or KIND NAME, not both');
        const set = await readManifests(opts.filename, opts.recursive, ctx.stdin);
        for (const e of set.errors) writeError(ctx, e);
        if (set.errors.length) ctx.exitCode = 1;
        if (set.objects.length === 0 && set.errors.length === 0) throw new CliError(`no objects passed to delete (${opts.filename.join(', ')} held only empty documents or none at all)`);
        // Namespaces go last so the objects inside them are named while they still exist.
        const ordered = [...set.objects.filter((o) => !isNamespaceDoc(o)), ...set.objects.filter(isNamespaceDoc)];
        for (const raw of ordered) {
          const t = manifestTarget(raw, globalsOf(cmd).namespace || undefined);
          if (!t.ok) {
            writeError(ctx, t.errors.join('\n'));
            ctx.exitCode = 1;
          } else doomed.push({ kind: t.kind, namespace: t.namespace, name: t.name });
        }
      } else {
        const requests = parseResourceArgs(args);
        const ns = namespaceOf(cmd);
        const bulk = opts.all || opts.selector !== undefined;
        for (const r of requests) {
          if (bulk && r.names.length) throw new CliError('names cannot be provided when a selector or --all is specified');
          if (!bulk && !r.names.length) {
            throw new CliError('resource(s) were provided, but no name was specified (give NAME…, --all or -l)');
          }
          const namespace = r.kind.namespaced ? ns : undefined;
          if (bulk) {
            const list = await ctx.client(cmd).list(r.kind, { namespace, labelSelector: opts.selector || undefined });
            for (const o of list.items) doomed.push({ kind: r.kind, namespace: o.metadata.namespace, name: o.metadata.name });
          } else for (const name of r.names) doomed.push({ kind: r.kind, namespace, name });
        }
        if (bulk && doomed.length === 0) ctx.stderr.write('No resources found\n');
      }
      const client = doomed.length ? ctx.client(cmd) : undefined;
      for (const d of doomed) {
        try {
          await client!.delete(d.kind, d.namespace, d.name);
          ctx.stdout.write(`${objectName(d.kind, d.name)} deleted\n`);
        } catch (err) {
          if (isNotFound(err) && opts.ignoreNotFound) continue;
          if (!(err instanceof ClientError) || err.code === 'CLIENT_UNREACHABLE') throw err;
          writeError(ctx, isNotFound(err) ? notFoundMessage(d.kind, d.name) : err.message);
          ctx.exitCode = 1;
        }
      }
    });
}
