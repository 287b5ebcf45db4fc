// The embedded metrics window: rates from the first and last scrape in range (series born in between count from
// zero, a counter that went down was reset), sums by label, quantiles from bucket rates; failing targets keep history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../lib/log.js';
import { MetricsWindow } from './metrics-window.js';

function windowOver(texts: Map<string, string[]>): MetricsWindow {
  return new MetricsWindow({
    targets: () => [...texts.keys()].map((address) => ({ address, labels: {} })),
    log: silentLogger(),
    fetchText: async (address) => {
      const next = texts.get(address)!.shift();
      if (next === undefined) throw new Error('target down');
      return next;
    },
  });
}

test('MetricsWindow: per-second rates summed by label, resets and new series handled', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const w = windowOver(new Map([
    ['a:15020', [
      'istio_tcp_connections_opened_total{reporter="source",source_workload="client"} 10\nistio_tcp_connections_opened_total{reporter="source",source_workload="old"} 50\n',
      'istio_tcp_connections_opened_total{reporter="source",source_workload="client"} 30\nistio_tcp_connections_opened_total{reporter="source",source_workload="old"} 5\nistio_tcp_connections_opened_total{reporter="source",source_workload="new"} 4\n',
    ]],
    ['b:15020', [
      'istio_tcp_connections_opened_total{reporter="destination",source_workload="client"} 0\n',
      'istio_tcp_connections_opened_total{reporter="destination",source_workload="client"} 10\n',
    ]],
  ]));
  await w.scrapeNow();
  t.mock.timers.tick(10_000);
  await w.scrapeNow();
  const bySource = await w.rate({ metric: 'istio_tcp_connections_opened_total', by: ['source_workload'] }, 60);
  const rate = (name: string) => bySource.find((s) => s.labels.source_workload === name)?.value;
  assert.equal(rate('client'), 3, '(30-10)/10 s from a plus (10-0)/10 s from b');
  assert.equal(rate('old'), 0.5, 'a counter that went down was reset: its value is the increase');
  assert.equal(rate('new'), 0.4, 'a series born in the window started at zero');
  const byReporter = await w.rate({ metric: 'istio_tcp_connections_opened_total', by: ['reporter'], match: { reporter: 'dest.*' } }, 60);
  assert.deepEqual(byReporter, [{ labels: { reporter: 'destination' }, value: 1 }]);
  // A target that stops answering keeps what it had; the page shows the error.
  t.mock.timers.tick(10_000);
  await w.scrapeNow();
  assert.equal((await w.rate({ metric: 'istio_tcp_connections_opened_total', by: [] }, 60))[0]?.value, 3.9);
  assert.match(String(w.targetHealth().find((h) => h.address === 'a:15020')?.error), /target down/);
});

test('MetricsWindow: p99 from bucket rates; one scrape alone gives no rate', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 5_000_000 });
  const bucket = (le: string, v: number) => `istio_request_duration_milliseconds_bucket{reporter="waypoint",le="${le}"} ${v}`;
  const w = windowOver(new Map([['w:15020', [
    [bucket('10', 0), bucket('100', 0), bucket('+Inf', 0)].join('\n'),
    [bucket('10', 50), bucket('100', 100), bucket('+Inf', 100)].join('\n'),
  ]]]));
  await w.scrapeNow();
  assert.deepEqual(await w.quantile({ quantile: 0.99, histogram: 'istio_request_duration_milliseconds', by: ['reporter'] }, 60), []);
  t.mock.timers.tick(5000);
  await w.scrapeNow();
  const [p99] = await w.quantile({ quantile: 0.99, histogram: 'istio_request_duration_milliseconds', by: ['reporter'] }, 60);
  assert.equal(p99?.labels.reporter, 'waypoint');
  assert.equal(Math.round(p99!.value * 10) / 10, 98.2);
});

test('MetricsWindow: scrapes only while in use — at once, a second later, every interval — and stops when idle', async (t) => {
  t.mock.timers.enable({ apis: ['Date', 'setInterval', 'setTimeout'], now: 0 });
  let scrapes = 0;
  const w = new MetricsWindow({
    targets: () => [{ address: 'z:15020', labels: {} }], log: silentLogger(), intervalMs: 5000,
    fetchText: async () => `istio_tcp_connections_opened_total{reporter="source"} ${++scrapes}\n`,
  });
  const settle = () => new Promise<void>((r) => setImmediate(r));
  await settle();
  assert.equal(scrapes, 0, 'nothing is scraped before the dashboard is used');
  w.touch();
  await settle();
  assert.equal(scrapes, 1);
  t.mock.timers.tick(1000);
  await settle();
  assert.equal(scrapes, 2, 'a second scrape a second later gives a first rate');
  assert.equal((await w.rate({ metric: 'istio_tcp_connections_opened_total', by: [] }, 60))[0]?.value, 1);
  for (let i = 0; i < 3; i++) {
    t.mock.timers.tick(5000);
    await settle();
  }
  assert.equal(scrapes, 5);
  // Ten minutes without use: scraping stops and the history goes.
  for (let i = 0; i < 125; i++) {
    t.mock.timers.tick(5000);
    await settle();
  }
  const stoppedAt = scrapes;
  t.mock.timers.tick(60_000);
  await settle();
  assert.equal(scrapes, stoppedAt, 'no scrapes once idle');
  assert.deepEqual(await w.rate({ metric: 'istio_tcp_connections_opened_total', by: [] }, 60), []);
  w.touch();
  await settle();
  assert.equal(scrapes, stoppedAt + 1, 'using it again starts again');
  w.stop();
});
