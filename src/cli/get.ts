// `ambit get KIND[,KIND…] [NAME…]`: kubectl-style tables, or the objects as yaml/json/name; `-w` streams changes.
import type { Command } from 'commander';
import { toJson, toYaml } from '../api/index.js';
import { parseLabelSelector } from '../api/labels.js';
import type { KubeObject } from '../api/meta.js';
import type { KindInfo } from '../api/registry.js';
import { ClientError, isNotFound, type ApiClient } from '../controlplane/client/index.js';
import { CliError, namespaceOf, writeError, type CliContext } from './cli-context.js';
import { notFoundMessage, objectName, parseResourceArgs, type ResourceRequest } from './resource-args.js';
import { tableOf, type TableOptions } from './resource-columns.js';
import { columnWidths, formatRow, renderTable } from './table.js';

const OUTPUT_FORMATS = ['wide', 'yaml', 'json', 'name'] as const;
type OutputFormat = '' | (typeof OUTPUT_FORMATS)[number];

interface GetOptions {
  allNamespaces: boolean;
  output?: string;
  selector?: string;
  watch: boolean;
  showLabels: boolean;
}

interface Fetched {
  kind: KindInfo;
  items: KubeObject[];
  /** The list's resourceVersion (a watch resumes from it); '' for name lookups. */
  resourceVersion: string;
}

/** Checks `-o`; kubectl's wording for an unknown format. */
export function parseOutputFormat(value: string | undefined): OutputFormat {
  if (value === undefined || value === '') return '';
  if ((OUTPUT_FORMATS as readonly string[]).includes(value)) return value as OutputFormat;
  throw new CliError(`unable to match a printer suitable for the output format "${value}", allowed formats are: ${[...OUTPUT_FORMATS].sort().join(',')}`);
}

/** A `List` wrapping several objects, as kubectl prints `get -o yaml|json` of a collection. */
export function listOf(items: KubeObject[]): KubeObject {
  // kubectl's key order (alphabetical) so output diffs cleanly against kubectl's.
  return { apiVersion: 'v1', items, kind: 'List', metadata: { resourceVersion: '' } } as unknown as KubeObject;
}

function withNewline(s: string): string {
  return s.endsWith('\n') ? s : `${s}\n`;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('get')
    .description('list objects of one or more kinds (kubectl-style table, or -o yaml|json|wide|name)')
    .argument('<kinds>', 'KIND, KIND,KIND, KIND/NAME, or all (pods and services)')
    .argument('[names...]', 'object names')
    .option('-A, --all-namespaces', 'list across all namespaces', false)
    .option('-o, --output <format>', 'output format: yaml|json|wide|name')
    .option('-l, --selector <selector>', 'label selector (e.g. app=web,tier!=db)')
    .option('-w, --watch', 'after listing, print every change', false)
    .option('--show-labels', 'add a LABELS column', false)
    .action(async (kinds: string, names: string[], opts: GetOptions, cmd: Command) => {
      const format = parseOutputFormat(opts.output);
      const requests = parseResourceArgs([kinds, ...names], { allCategory: true });
      const named = requests.some((r) => r.names.length > 0);
      if (named && opts.selector) throw new CliError('name cannot be provided when a selector is specified');
      if (named && opts.allNamespaces) throw new CliError('a resource cannot be retrieved by name across all namespaces');
      if (opts.watch && requests.length > 1) throw new CliError('you may only specify a single resource type with --watch');
      if (opts.selector) {
        const sel = parseLabelSelector(opts.selector);
        if (!sel.ok) throw new CliError(`invalid label selector: ${sel.error}`);
      }
      const ns = namespaceOf(cmd);
      const client = ctx.client(cmd);
      const fetched: Fetched[] = [];
      for (const r of requests) fetched.push(await fetchRequest(ctx, client, r, ns, opts));

      const all = fetched.flatMap((f) => f.items);
      const tableOpts: TableOptions = { allNamespaces: opts.allNamespaces, wide: format === 'wide', nowMs: ctx.now(), kindPrefix: requests.length > 1 };
      if (format === 'yaml' || format === 'json') {
        // One object asked for by name prints as itself; anything else is a List (as kubectl does).
        const single = named && requests.length === 1 && requests[0]!.names.length === 1;
        if (single && all.length === 1) ctx.stdout.write(withNewline(format === 'yaml' ? toYaml(all) : toJson(all)));
        else if (!single) ctx.stdout.write(withNewline(format === 'yaml' ? toYaml([listOf(all)]) : toJson([listOf(all)])));
      } else if (format === 'name') {
        for (const f of fetched) for (const o of f.items) ctx.stdout.write(`${objectName(f.kind, o.metadata.name)}\n`);
      } else {
        const tables = fetched
          .filter((f) => f.items.length > 0)
          .map((f) => {
            const t = tableOf(f.kind, f.items, tableOpts);
            if (opts.showLabels) addLabels(t, f.items);
            return renderTable(t.header, t.rows);
          });
        ctx.stdout.write(tables.join('\n'));
      }
      if (all.length === 0 && !named && format !== 'yaml' && format !== 'json') {
        const scoped = requests.some((r) => r.kind.namespaced) && !opts.allNamespaces;
        ctx.stderr.write(scoped ? `No resources found in ${ns} namespace.\n` : 'No resources found\n');
      }
      if (opts.watch) await watchChanges(ctx, client, fetched[0]!, requests[0]!, ns, opts, format, tableOpts);
    });
}

async function fetchRequest(ctx: CliContext, client: ApiClient, r: ResourceRequest, ns: string, opts: GetOptions): Promise<Fetched> {
  const namespace = r.kind.namespaced && !opts.allNamespaces ? ns : undefined;
  if (r.names.length === 0) {
    const list = await client.list(r.kind, { namespace, labelSelector: opts.selector || undefined });
    return { kind: r.kind, items: list.items, resourceVersion: list.metadata.resourceVersion };
  }
  const items: KubeObject[] = [];
  for (const name of r.names) {
    try {
      items.push(await client.get(r.kind, namespace, name));
    } catch (err) {
      if (!(err instanceof ClientError) || err.code === 'CLIENT_UNREACHABLE') throw err;
      writeError(ctx, isNotFound(err) ? notFoundMessage(r.kind, name) : err.message);
      ctx.exitCode = 1;
    }
  }
  return { kind: r.kind, items, resourceVersion: '' };
}

function labelsCell(o: KubeObject): string {
  const entries = Object.entries(o.metadata.labels ?? {});
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(',') : '<none>';
}

function addLabels(t: { header: string[]; rows: string[][] }, items: KubeObject[]): void {
  t.header.push('LABELS');
  t.rows.forEach((row, i) => row.push(labelsCell(items[i]!)));
}

async function watchChanges(
  ctx: CliContext,
  client: ApiClient,
  initial: Fetched,
  req: ResourceRequest,
  ns: string,
  opts: GetOptions,
  format: OutputFormat,
  tableOpts: TableOptions,
): Promise<void> {
  const namespace = req.kind.namespaced && !opts.allNamespaces ? ns : undefined;
  // A name lookup has no list version: start from the newest state, which the lookup already showed.
  let resourceVersion = initial.resourceVersion;
  if (!resourceVersion) resourceVersion = (await client.list(req.kind, { namespace })).metadata.resourceVersion;
  const first = tableOf(req.kind, initial.items, tableOpts);
  const widths = columnWidths([first.header, ...first.rows]);
  let headerShown = initial.items.length > 0;
  const stream = client.watch(req.kind, { namespace, labelSelector: opts.selector || undefined, resourceVersion });
  for await (const ev of stream) {
    const o = ev.object;
    if (req.names.length && !req.names.includes(o.metadata?.name)) continue;
    if (format === 'yaml') ctx.stdout.write(`---\n${withNewline(toYaml([o]))}`);
    else if (format === 'json') ctx.stdout.write(withNewline(toJson([o])));
    else if (format === 'name') ctx.stdout.write(`${objectName(req.kind, o.metadata.name)}\n`);
    else {
      const t = tableOf(req.kind, [o], { ...tableOpts, nowMs: ctx.now() });
      if (opts.showLabels) addLabels(t, [o]);
      if (!headerShown) {
        ctx.stdout.write(formatRow(t.header, widths) + '\n');
        headerShown = true;
      }
      ctx.stdout.write(formatRow(t.rows[0]!, widths) + '\n');
    }
  }
}
