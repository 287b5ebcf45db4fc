// Telemetry: tracing (provider, sampling, off) and access logging on/off for waypoints — the waypoint's own Gateway
// (targetRefs), its namespace, or mesh-wide from the root namespace; metrics `disabled` overrides (tag overrides
// are stored only).
import { checkIstioDuration, isSet } from './checks.js';
import { checkTargeting, targetingFields } from './istio-common.js';
import { arr, bool, defineKind, enumOf, ignored, map, num, obj, req, str, type ObjectSchema } from './schema.js';

// --- Fields Ambit stores but does not act on in its first release (shrink as features land) ---
const TELEMETRY_IGNORED = {
  tagOverrides: 'metric tag overrides (CEL values) are not implemented; only `disabled` overrides are',
  reportingInterval: 'metrics are scraped on demand; the reporting interval is not used',
  customTags: 'custom span tags are not implemented',
  useRequestIdForTraceSampling: 'sampling is by trace id (parent based), not by x-request-id',
  enableIstioTags: 'Istio\'s own span tags are not added',
  disableContextPropagation: 'the waypoint always propagates trace context (W3C and B3)',
  filter: 'CEL access-log filters are not implemented: every request is logged',
  accessLogProviders: 'the waypoint writes its access log to its own output; access-log providers are not used',
  clientMode: 'waypoints only report server-side telemetry; match.mode CLIENT selects nothing',
};

const METRICS = [
  'ALL_METRICS',
  'REQUEST_COUNT',
  'REQUEST_DURATION',
  'REQUEST_SIZE',
  'RESPONSE_SIZE',
  'TCP_OPENED_CONNECTIONS',
  'TCP_CLOSED_CONNECTIONS',
  'TCP_SENT_BYTES',
  'TCP_RECEIVED_BYTES',
  'GRPC_REQUEST_MESSAGES',
  'GRPC_RESPONSE_MESSAGES',
];
const MODES = ['CLIENT_AND_SERVER', 'CLIENT', 'SERVER'];

const providers = arr(obj({ name: req(str({ nonEmpty: true })) }));
const match = (): ObjectSchema => obj({ mode: enumOf(MODES, { ignore: (v) => (v === 'CLIENT' ? TELEMETRY_IGNORED.clientMode : undefined) }) });
const customTag = obj(
  {
    literal: obj({ value: req(str()) }),
    environment: obj({ name: req(str({ nonEmpty: true })), defaultValue: str() }),
    header: obj({ name: req(str({ nonEmpty: true })), defaultValue: str() }),
  },
  {
    check: (t, path, { p }) => {
      const set = ['literal', 'environment', 'header'].filter((k) => isSet(t[k]));
      if (set.length !== 1) p.error(path, `exactly one of literal, environment, header must be set${set.length ? `, got ${set.join(' and ')}` : ''}`);
    },
  },
);

defineKind('Telemetry', {
  spec: obj(
    {
      ...targetingFields(),
      tracing: arr(
        obj({
          match: match(),
          providers,
          randomSamplingPercentage: num({ min: 0, max: 100 }),
          disableSpanReporting: bool(),
          customTags: ignored(map(customTag), TELEMETRY_IGNORED.customTags),
          useRequestIdForTraceSampling: ignored(bool(), TELEMETRY_IGNORED.useRequestIdForTraceSampling),
          enableIstioTags: ignored(bool(), TELEMETRY_IGNORED.enableIstioTags),
          disableContextPropagation: ignored(bool(), TELEMETRY_IGNORED.disableContextPropagation),
        }),
      ),
      metrics: arr(
        obj({
          providers,
          overrides: arr(
            obj({
              match: obj({ metric: enumOf(METRICS), customMetric: str({ nonEmpty: true }), mode: enumOf(MODES) }),
              disabled: bool(),
              tagOverrides: ignored(map(obj({ operation: enumOf(['UPSERT', 'REMOVE']), value: str() })), TELEMETRY_IGNORED.tagOverrides),
            }),
          ),
          reportingInterval: ignored(str({ check: checkIstioDuration }), TELEMETRY_IGNORED.reportingInterval),
        }),
      ),
      accessLogging: arr(
        obj({
          match: match(),
          providers: ignored(providers, TELEMETRY_IGNORED.accessLogProviders),
          disabled: bool(),
          filter: ignored(obj({ expression: req(str({ nonEmpty: true })) }), TELEMETRY_IGNORED.filter),
        }),
      ),
    },
    { check: checkTargeting },
  ),
  specOptional: true,
});
