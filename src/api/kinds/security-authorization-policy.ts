// AuthorizationPolicy: sources, operations and conditions, SPIFFE principals, and which fields ztunnel cannot enforce.
import { checkIpOrCidr, checkPortString, checkWildcardString, isSet } from './checks.js';
import { checkTargeting, hasTargetRefs, targetingFields, type PolicyTargetReference, type WorkloadSelector } from './istio-common.js';
import { arr, defineKind, enumOf, ignored, obj, req, str, strings, type Check, type Ctx } from './schema.js';
import { SPIFFE_SCHEME } from '../../lib/certs/spiffe-id.js';

type AuthorizationAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

interface AuthorizationSource {
  principals?: string[];
  notPrincipals?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  serviceAccounts?: string[];
  notServiceAccounts?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
  trustDomains?: string[];
  notTrustDomains?: string[];
}

interface AuthorizationOperation {
  hosts?: string[];
  notHosts?: string[];
  /** Decimal port numbers as strings. */
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

interface AuthorizationCondition {
  key: string;
  values?: string[];
  notValues?: string[];
}

interface AuthorizationRule {
  from?: Array<{ source: AuthorizationSource }>;
  to?: Array<{ operation: AuthorizationOperation }>;
  when?: AuthorizationCondition[];
}

interface AuthorizationPolicySpec {
  selector?: WorkloadSelector;
  targetRefs?: PolicyTargetReference[];
  /** Defaults to ALLOW. */
  action?: AuthorizationAction;
  provider?: { name: string };
  /** Absent or empty: the policy never matches (an ALLOW policy then denies everything it selects). */
  rules?: AuthorizationRule[];
}

const AUTHORIZATION_ACTIONS: readonly AuthorizationAction[] = ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'];

/** `when` keys ztunnel evaluates; every other key is HTTP-only. */
const L4_CONDITION_KEYS = ['source.ip', 'source.namespace', 'source.principal', 'destination.ip', 'destination.port'] as const;

// --- Fields Ambit stores but does not act on in its first release (shrink as features land) ---
const AP_IGNORED = {
  ztunnelAction: (action: string) => `ztunnel does not support the ${action} action (only waypoints do): without targetRefs this policy is not enforced`,
  remoteIpBlocks: 'remote IPs need trusted X-Forwarded-For hops, which are not implemented',
  trustDomains: 'trust-domain matching is only done by waypoints: without targetRefs it is not enforced',
};

// --- Value rules ---

const PRINCIPAL_SHAPE = ['', 'ns', '', 'sa', ''];

/**
 * Whether `parts` (a principal split on '/') fit the shape `<td>/ns/<ns>/sa/<sa>` starting at segment `from`;
 * `partialEdge` says the first (suffix match) or last (prefix match) segment may be a fragment.
 */
function fitsShape(parts: string[], from: number, partial: 'first' | 'last' | 'none'): boolean {
  if (from + parts.length > PRINCIPAL_SHAPE.length) return false;
  return parts.every((seg, i) => {
    const want = PRINCIPAL_SHAPE[from + i]!;
    const edge = (partial === 'first' && i === 0) || (partial === 'last' && i === parts.length - 1);
    if (want === '') return seg !== '' || edge;
    return edge ? (partial === 'first' ? want.endsWith(seg) : want.startsWith(seg)) : seg === want;
  });
}

/** Why `v` is not an Istio peer principal (`<td>/ns/<ns>/sa/<sa>`, `*`, or one leading/trailing `*`), or undefined. */
export function principalError(v: string): string | undefined {
  const expected = `expected <trust-domain>/ns/<namespace>/sa/<service-account>, "*", or that form with one leading or trailing "*"`;
  if (v === '*') return undefined;
  if (v.startsWith(SPIFFE_SCHEME)) return `invalid principal ${JSON.stringify(v)}: write it without the spiffe:// prefix`;
  const stars = v.split('*').length - 1;
  if (stars > 1 || (stars === 1 && !v.startsWith('*') && !v.endsWith('*'))) return `invalid principal ${JSON.stringify(v)}: ${expected}`;
  let ok: boolean;
  if (v.endsWith('*')) {
    ok = fitsShape(v.slice(0, -1).split('/'), 0, 'last');
  } else if (v.startsWith('*')) {
    const parts = v.slice(1).split('/');
    ok = [0, 1, 2, 3, 4].some((from) => from + parts.length === PRINCIPAL_SHAPE.length && fitsShape(parts, from, 'first'));
  } else {
    const parts = v.split('/');
    ok = parts.length === PRINCIPAL_SHAPE.length && fitsShape(parts, 0, 'none');
  }
  return ok ? undefined : `invalid principal ${JSON.stringify(v)}: ${expected}`;
}
const checkPrincipal: Check<string> = (v, path, { p }) => {
  const e = principalError(v);
  if (e) p.error(path, e);
};

const checkServiceAccount: Check<string> = (v, path, { p }) => {
  if (!/^([a-z0-9]([-a-z0-9]*[a-z0-9])?\/)?[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/.test(v)) {
    p.error(path, `${JSON.stringify(v)} is not a service account (expected "<namespace>/<name>" or "<name>"; wildcards are not allowed)`);
  }
};

/** Istio path templates: `{*}` one segment, `{**}` the rest (last segment only); otherwise a wildcard string. */
const checkPath: Check<string> = (v, path, ctx) => {
  if (!v.includes('{') && !v.includes('}')) return checkWildcardString(v, path, ctx);
  const bad = (why: string): void => ctx.p.error(path, `invalid path template ${JSON.stringify(v)}: ${why}`);
  if (!v.startsWith('/')) return bad('must start with /');
  const segs = v.slice(1).split('/');
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    if (s === '{**}') {
      if (i !== segs.length - 1) return bad('{**} must be the last segment');
    } else if (s !== '{*}' && /[{}*]/.test(s)) {
      return bad('a segment is either {*}, {**} or literal text');
    }
  }
};

const KNOWN_CONDITION_KEYS = [
  'source.ip',
  'source.namespace',
  'source.principal',
  'source.serviceAccount',
  'source.trustDomain',
  'remote.ip',
  'request.auth.principal',
  'request.auth.audiences',
  'request.auth.presenter',
  'destination.ip',
  'destination.port',
  'connection.sni',
];

function conditionKeyError(key: string): string | undefined {
  if (KNOWN_CONDITION_KEYS.includes(key)) return undefined;
  if (/^request\.headers\[[^\][]+\]$/.test(key)) return undefined;
  if (/^request\.auth\.claims(\[[^\][]+\])+$/.test(key)) return undefined;
  if (/^experimental\.envoy\.filters\.[A-Za-z0-9_.]+\[[^\][]+\](\[[^\][]+\])*$/.test(key)) return undefined;
  return `unknown attribute ${JSON.stringify(key)} (accepted: ${KNOWN_CONDITION_KEYS.join(', ')}, request.headers[<name>], request.auth.claims[<claim>]…)`;
}

function checkCondition(c: Record<string, unknown>, path: string, ctx: Ctx): void {
  const key = c['key'] as string;
  const e = conditionKeyError(key);
  if (e) return ctx.p.error(`${path}.key`, e);
  const values = (c['values'] as string[] | undefined) ?? [];
  const notValues = (c['notValues'] as string[] | undefined) ?? [];
  if (values.length === 0 && notValues.length === 0) return ctx.p.error(path, 'at least one of values, notValues must be set');
  const valueCheck: Check<string> | undefined =
    key === 'source.ip' || key === 'remote.ip' || key === 'destination.ip'
      ? checkIpOrCidr
      : key === 'destination.port'
        ? checkPortString
        : key === 'source.principal'
          ? checkPrincipal
          : undefined;
  if (!valueCheck) return;
  values.forEach((v, i) => valueCheck(v, `${path}.values[${i}]`, ctx));
  notValues.forEach((v, i) => valueCheck(v, `${path}.notValues[${i}]`, ctx));
}

// --- Schema ---

/** Ignore rule for fields ztunnel cannot enforce when the policy has no targetRefs. */
/** Ignored only in a policy ztunnel enforces (no targetRefs): waypoints act on it. */
function ztunnelOnly(reason: string): (value: unknown, ctx: Ctx) => string | undefined {
  return (_v, { obj: o }) => (hasTargetRefs(o.spec as Record<string, unknown> | undefined) ? undefined : reason);
}

function httpOnly(notImplemented?: string): (value: unknown, ctx: Ctx) => string | undefined {
  return (_v, { obj: o }) => {
    const spec = o.spec as AuthorizationPolicySpec | undefined;
    const action = spec?.action ?? 'ALLOW';
    if (!hasTargetRefs(spec as Record<string, unknown> | undefined) && (action === 'ALLOW' || action === 'DENY')) {
      return action === 'ALLOW'
        ? 'HTTP attribute in a ztunnel-enforced policy (no targetRefs): ztunnel drops this whole rule, so it never allows anything'
        : 'HTTP attribute in a ztunnel-enforced policy (no targetRefs): ztunnel drops it, and a clause left empty makes the rule a no-op';
    }
    return notImplemented;
  };
}

const principals = strings({ check: checkPrincipal });
const wildcardStrings = strings({ check: checkWildcardString });

const source = obj(
  {
    principals,
    notPrincipals: principals,
    requestPrincipals: ignored(wildcardStrings, httpOnly()),
    notRequestPrincipals: ignored(wildcardStrings, httpOnly()),
    namespaces: wildcardStrings,
    notNamespaces: wildcardStrings,
    serviceAccounts: strings({ check: checkServiceAccount }, { maxItems: 16 }),
    notServiceAccounts: strings({ check: checkServiceAccount }, { maxItems: 16 }),
    ipBlocks: strings({ check: checkIpOrCidr }),
    notIpBlocks: strings({ check: checkIpOrCidr }),
    remoteIpBlocks: ignored(strings({ check: checkIpOrCidr }), httpOnly(AP_IGNORED.remoteIpBlocks)),
    notRemoteIpBlocks: ignored(strings({ check: checkIpOrCidr }), httpOnly(AP_IGNORED.remoteIpBlocks)),
    trustDomains: ignored(wildcardStrings, ztunnelOnly(AP_IGNORED.trustDomains)),
    notTrustDomains: ignored(wildcardStrings, ztunnelOnly(AP_IGNORED.trustDomains)),
  },
  {
    check: (s, path, ctx) => {
      if (!Object.values(s).some(isSet)) return ctx.p.error(path, 'must not be empty (set at least one field)');
      for (const sa of ['serviceAccounts', 'notServiceAccounts']) {
        for (const other of ['principals', 'notPrincipals', 'namespaces', 'notNamespaces']) {
          if (isSet(s[sa]) && isSet(s[other])) return ctx.p.error(`${path}.${sa}`, `must not be combined with ${other} in the same source`);
        }
      }
    },
  },
);

const operation = obj(
  {
    hosts: ignored(wildcardStrings, httpOnly()),
    notHosts: ignored(wildcardStrings, httpOnly()),
    ports: strings({ check: checkPortString }),
    notPorts: strings({ check: checkPortString }),
    methods: ignored(wildcardStrings, httpOnly()),
    notMethods: ignored(wildcardStrings, httpOnly()),
    paths: ignored(strings({ check: checkPath }), httpOnly()),
    notPaths: ignored(strings({ check: checkPath }), httpOnly()),
  },
  {
    check: (op, path, { p }) => {
      if (!Object.values(op).some(isSet)) p.error(path, 'must not be empty (set at least one field)');
    },
  },
);

const condition = obj(
  {
    key: req(str({ nonEmpty: true })),
    values: strings({ nonEmpty: true }),
    notValues: strings({ nonEmpty: true }),
  },
  { check: checkCondition },
);

const rule = obj({
  // An empty list means the same as an absent one (protobuf cannot tell them apart), so both are accepted.
  from: arr(obj({ source: req(source) })),
  to: arr(obj({ operation: req(operation) })),
  when: arr(condition, {
    check: (conds, path, ctx) => {
      // A `when` key ztunnel cannot evaluate is HTTP-only (reported like the other HTTP attributes).
      const reason = httpOnly()(undefined, ctx);
      if (!reason) return;
      (conds as AuthorizationCondition[]).forEach((c, i) => {
        if (!(L4_CONDITION_KEYS as readonly string[]).includes(c.key)) ctx.p.ignore(`${path}[${i}].key`, reason);
      });
    },
  }),
});

defineKind('AuthorizationPolicy', {
  spec: obj(
    {
      ...targetingFields(),
      action: enumOf(AUTHORIZATION_ACTIONS, {
        ignore: (v, { obj: o }) => ((v === 'AUDIT' || v === 'CUSTOM') && !hasTargetRefs(o.spec as Record<string, unknown> | undefined) ? AP_IGNORED.ztunnelAction(v) : undefined),
      }),
      provider: obj({ name: req(str({ nonEmpty: true })) }),
      rules: arr(rule, { maxItems: 512 }),
    },
    {
      check: (spec, path, ctx) => {
        checkTargeting(spec, path, ctx);
        const action = (spec['action'] as string | undefined) ?? 'ALLOW';
        if (action === 'CUSTOM' && !isSet(spec['provider'])) ctx.p.error(`${path}.provider`, 'required field is missing (for action CUSTOM)');
        if (action !== 'CUSTOM' && isSet(spec['provider'])) ctx.p.error(`${path}.provider`, `must only be set for action CUSTOM (action is ${action})`);
      },
    },
  ),
  specOptional: true,
  check: (o, { p }) => {
    const dryRun = o.metadata.annotations?.['istio.io/dry-run'];
    if (dryRun !== undefined) {
      if (dryRun !== 'true' && dryRun !== 'false') p.error('metadata.annotations.istio.io/dry-run', `unknown value ${JSON.stringify(dryRun)} (accepted: true, false)`);
    }
  },
});
