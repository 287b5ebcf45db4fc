// Turns the KIND [NAME…] words of a verb into kinds and names, accepting kubectl's spellings: plural, singular,
// short name, `plural.group`, comma lists (`svc,pods`) and `kind/name` pairs.
import { KINDS, kindByResource, type KindInfo } from '../api/registry.js';
import { CliError } from './cli-context.js';

/** A kind and the names asked for (empty = every object of the kind). */
export interface ResourceRequest {
  kind: KindInfo;
  names: string[];
}

/** The kind a user typed, or a CliError worded like kubectl's. */
export function resolveKind(word: string): KindInfo {
  const w = word.trim().toLowerCase();
  const direct = kindByResource(w);
  if (direct) return direct;
  // `<resource>.<group>` or `<resource>.<version>.<group>` with any spelling of the resource.
  const dot = w.indexOf('.');
  if (dot > 0) {
    const k = kindByResource(w.slice(0, dot));
    const rest = w.slice(dot + 1);
    if (k && k.group && (rest === k.group || k.versions.some((v) => rest === `${v}.${k.group}`))) return k;
  }
  throw new CliError(`the server doesn't have a resource type "${word}"`);
}

/**
 * What `all` stands for (kubectl's `all` category): the workload kinds, not config. kubectl's also holds controllers
 * (Deployments, …), which Ambit does not have.
 */
const ALL_CATEGORY = ['pods', 'services'];

/** Options of `resolveKinds`/`parseResourceArgs`. */
interface ResolveOptions {
  /** Accept `all` for the kinds of kubectl's `all` category (only reading verbs do). */
  allCategory?: boolean;
}

/** Resolves a comma list (`svc,pods`) into distinct kinds, in the order typed. */
export function resolveKinds(list: string, opts: ResolveOptions = {}): KindInfo[] {
  const words = list.split(',').filter((w) => w !== '');
  if (words.length === 0) throw new CliError('you must specify the type of resource to get');
  const out: KindInfo[] = [];
  for (const w of words) {
    const kinds = opts.allCategory && w.trim().toLowerCase() === 'all' ? ALL_CATEGORY.map(resolveKind) : [resolveKind(w)];
    for (const k of kinds) if (!out.includes(k)) out.push(k);
  }
  return out;
}

/**
 * Parses `KIND[,KIND…] [NAME…]` or `KIND/NAME [KIND/NAME…]`. Names given with a comma list apply to every kind
 * (as kubectl does).
 */
export function parseResourceArgs(args: readonly string[], opts: ResolveOptions = {}): ResourceRequest[] {
  if (args.length === 0) {
    throw new CliError(`you must specify the type of resource (one of: ${KINDS.map((k) => k.plural).join(', ')})`);
  }
  if (args[0]!.includes('/')) {
    const out: ResourceRequest[] = [];
    for (const a of args) {
      const slash = a.indexOf('/');
      if (slash <= 0 || slash === a.length - 1) {
        throw new CliError(`there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (got "${a}")`);
      }
      const kind = resolveKind(a.slice(0, slash));
      const name = a.slice(slash + 1);
      const existing = out.find((r) => r.kind === kind);
      if (existing) existing.names.push(name);
      else out.push({ kind, names: [name] });
    }
    return out;
  }
  const names = args.slice(1);
  const bad = names.find((n) => n.includes('/'));
  if (bad) throw new CliError(`there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (got "${bad}")`);
  return resolveKinds(args[0]!, opts).map((kind) => ({ kind, names: [...names] }));
}

/** kubectl's resource prefix: `pod`, `authorizationpolicy.security.istio.io`. */
function qualifiedKind(k: KindInfo): string {
  return k.group ? `${k.singular}.${k.group}` : k.singular;
}

/** kubectl's `-o name` / progress form: `pod/web`, `authorizationpolicy.security.istio.io/deny-all`. */
export function objectName(k: KindInfo, name: string): string {
  return `${qualifiedKind(k)}/${name}`;
}

/** kubectl's not-found wording: `pods "web" not found`, `gateways.gateway.networking.k8s.io "w" not found`. */
export function notFoundMessage(kind: KindInfo, name: string): string {
  const resource = kind.group ? `${kind.plural}.${kind.group}` : kind.plural;
  return `${resource} "${name}" not found`;
}
