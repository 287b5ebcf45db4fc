// The committed Helm chart (manifests/ambit) is exactly what install-chart.ts renders from install-objects.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chartFiles } from './install-chart.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

test('manifests/ambit matches the install objects (regenerate with npm run build && node scripts/gen-chart.mjs)', () => {
  const version = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string }).version;
  for (const [path, text] of Object.entries(chartFiles(version))) {
    assert.equal(readFileSync(`${ROOT}manifests/ambit/${path}`, 'utf8'), text, `manifests/ambit/${path} is stale`);
  }
});

test('every value the chart takes appears as a template expression, none as a leftover sentinel', () => {
  const t = chartFiles('0.0.0')['templates/ambit.yaml']!;
  assert.doesNotMatch(t, /__AMBIT_[A-Z_]+__/);
  for (const expr of ['.Release.Namespace', '.Values.image', '.Values.trustDomain', '.Values.logLevel']) assert.ok(t.includes(expr), expr);
});
