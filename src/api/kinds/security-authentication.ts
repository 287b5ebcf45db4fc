// PeerAuthentication (mTLS mode, port-level exceptions) and RequestAuthentication (JWT rules for waypoints).
import { checkHeaderName, checkHttpUrl, checkPortKey, checkPositiveIstioDuration, isSet } from './checks.js';
import { checkTargeting, targetingFields, type WorkloadSelector } from './istio-common.js';
import { arr, bool, defineKind, enumOf, ignored, map, obj, req, str, strings } from './schema.js';

// --- PeerAuthentication ---

type MtlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';
const MTLS_MODES: readonly MtlsMode[] = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'];

// --- Fields Ambit stores but does not act on in its first release (shrink as features land) ---
// DISABLE cannot turn off mTLS between ambient pods (ISTIO-API.md §4.1): it acts like PERMISSIVE.
const DISABLE_IGNORED = 'DISABLE acts as PERMISSIVE in ambient mode: traffic between ambient pods is always mTLS';

const mtls = obj({ mode: enumOf(MTLS_MODES, { ignore: (v) => (v === 'DISABLE' ? DISABLE_IGNORED : undefined) }) });

defineKind('PeerAuthentication', {
  spec: obj(
    {
      selector: targetingFields()['selector']!,
      mtls,
      portLevelMtls: map(mtls, { keyCheck: checkPortKey }),
    },
    {
      check: (spec, path, { p }) => {
        const sel = spec['selector'] as WorkloadSelector | undefined;
        const hasSelector = sel?.matchLabels !== undefined && Object.keys(sel.matchLabels).length > 0;
        if (isSet(spec['portLevelMtls']) && Object.keys(spec['portLevelMtls'] as object).length > 0 && !hasSelector) {
          p.error(`${path}.portLevelMtls`, 'requires a selector with matchLabels (port-level settings apply to selected workloads only)');
        }
      },
    },
  ),
  specOptional: true,
});

// --- Fields Ambit stores but does not act on in its first release (shrink as features land) ---
const RA_IGNORED = {
  selector: 'JWTs are validated by waypoints, which only honour targetRefs policies; ztunnel never validates JWTs',
  oidcDiscovery: 'OIDC discovery is not implemented: without jwksUri or jwks no token can be verified',
};

const jwtRule = obj(
  {
    issuer: req(str({ nonEmpty: true })),
    audiences: strings({ nonEmpty: true }),
    jwksUri: str({ maxLength: 2048, check: checkHttpUrl }),
    jwks: str({
      check: (v, path, { p }) => {
        let doc: unknown;
        try {
          doc = JSON.parse(v);
        } catch {
          return p.error(path, 'is not valid JSON (expected a JWKS document {"keys": […]})');
        }
        if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { keys?: unknown }).keys)) {
          p.error(path, 'is not a JWKS document (expected {"keys": […]})');
        }
      },
    }),
    fromHeaders: arr(obj({ name: req(str({ check: checkHeaderName })), prefix: str() })),
    fromParams: strings({ nonEmpty: true }),
    fromCookies: strings({ nonEmpty: true }),
    outputPayloadToHeader: str({ check: checkHeaderName }),
    forwardOriginalToken: bool(),
    outputClaimToHeaders: arr(obj({ header: req(str({ check: checkHeaderName })), claim: req(str({ nonEmpty: true })) })),
    timeout: str({ check: checkPositiveIstioDuration }),
    spaceDelimitedClaims: strings({ nonEmpty: true }),
  },
  {
    check: (rule, path, ctx) => {
      if (isSet(rule['jwksUri']) && isSet(rule['jwks'])) ctx.p.error(`${path}.jwks`, `must not be set together with ${path}.jwksUri (they are mutually exclusive)`);
      else if (!isSet(rule['jwksUri']) && !isSet(rule['jwks'])) ctx.p.ignore(`${path}.issuer`, RA_IGNORED.oidcDiscovery);
    },
  },
);

defineKind('RequestAuthentication', {
  spec: obj(
    {
      ...targetingFields(),
      selector: ignored(targetingFields()['selector']!, RA_IGNORED.selector),
      jwtRules: arr(jwtRule, { maxItems: 4096 }),
    },
    {
      check: (spec, path, ctx) => {
        checkTargeting(spec, path, ctx);
      },
    },
  ),
  specOptional: true,
});
