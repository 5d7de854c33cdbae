// What a server and a worker export for Prometheus, read from real processes, and what deploy/monitoring
// builds on it: each task outcome counted apart, the time in the queue, Prometheus' naming rules (promtool
// check metrics), the alerting rules (promtool check rules, and their unit tests), and the dashboard, whose
// queries must be valid PromQL and name only metrics that a server or a worker exports.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { TaskQueues } from '../src/core/tasks/queue.js';
import { services } from './fixtures/services.js';
import { basic, eventually, redisUrl, ROOT, startStack, type Stack } from './helpers.js';
import { parseMetrics, sample } from './prometheus.js';
import { freePort } from '../scripts/private-redis.js';

const MONITORING = join(ROOT, 'deploy/monitoring');
const RULES = join(MONITORING, 'alerts.yaml');
const dashboard = JSON.parse(readFileSync(join(MONITORING, 'grafana-dashboard.json'), 'utf8'));
const rules: { alert: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }[] = parse(
  readFileSync(RULES, 'utf8'),
).groups.flatMap((g: any) => g.rules);

// promtool comes with Debian's `prometheus` package; CI installs it (.ci/run).
const hasPromtool = !spawnSync('promtool', ['--version']).error;
const withPromtool = it.skipIf(!hasPromtool);
const NEEDS_PROMTOOL = hasPromtool ? '' : ' [skipped: promtool is not installed; Debian/Ubuntu: apt-get install prometheus]';

function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { cwd: ROOT, input, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** Functions, aggregations and keywords of PromQL that may stand where a metric name could. */
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);

/**
 * The metric names a PromQL expression reads: what is left once strings, label matchers, ranges and label
 * lists are gone, less function and aggregation names (followed by a parenthesis) and keywords.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  return [...bare.matchAll(/(?<![\w.$])[a-zA-Z_:][\w:]*(?!\w*\s*\()/g)].map((m) => m[0]).filter((name) => !KEYWORDS.has(name.toLowerCase()));
}

/** Every sample name a /metrics page may hold: its samples' names, and those each `# TYPE` line announces. */
function exportedNames(text: string): string[] {
  const names = parseMetrics(text).map((s) => s.name);
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (type === 'histogram') names.push(`${name}_bucket`, `${name}_sum`, `${name}_count`);
    else if (type === 'summary') names.push(name, `${name}_sum`, `${name}_count`);
    else names.push(name);
  }
  return names;
}

type Panel = { id: number; type: string; title: string; description?: string; datasource?: any; gridPos: any; targets?: any[]; panels?: Panel[] };
const panels: Panel[] = dashboard.panels.flatMap((p: Panel) => [p, ...(p.panels ?? [])]);
const queryPanels = panels.filter((p) => p.type !== 'row');
const variables: any[] = dashboard.templating.list;

/** The dashboard's PromQL: each panel's queries, and `label_values(metric, label)` of its variables as the metric. */
const dashboardQueries = [
  ...queryPanels.flatMap((p) => p.targets!.map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr as string }))),
  ...variables
    .filter((v) => v.type === 'query')
    .map((v) => ({ where: `variable ${v.name}`, expr: /^label_values\((\w+),\s*\w+\)$/.exec(v.query.query)![1] })),
];

describe('deploy/monitoring/alerts.yaml', () => {
  withPromtool(`passes promtool check rules${NEEDS_PROMTOOL}`, () => {
    const { status, output } = promtool(['check', 'rules', RULES]);
    expect(output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(status).toBe(0);
  });

  withPromtool(`passes its unit tests, which see each alert fire when it should and not before (promtool test rules)${NEEDS_PROMTOOL}`, () => {
    const tests = join(MONITORING, 'alerts.test.yaml');
    const { status, output } = promtool(['test', 'rules', tests]);
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
    const tested = new Set(parse(readFileSync(tests, 'utf8')).tests.flatMap((t: any) => t.alert_rule_test.map((a: any) => a.alertname)));
    expect([...tested].sort()).toEqual(rules.map((r) => r.alert).sort());
  });

  it('has the five alerts, each waiting a while before it fires, with a severity, a summary and a description', () => {
    expect(rules.map((r) => r.alert)).toEqual(['SelfhostBacklogGrowing', 'SelfhostOldestTaskTooOld', 'SelfhostWorkersGone', 'SelfhostRedisDown', 'SelfhostFailureRatioHigh']);
    for (const rule of rules) {
      expect(rule.for, rule.alert).toMatch(/^\d+m$/);
      expect(['warning', 'critical'], rule.alert).toContain(rule.labels?.severity);
      expect(Object.keys(rule.annotations ?? {}).sort(), rule.alert).toEqual(['description', 'summary']);
    }
  });
});

describe('deploy/monitoring/grafana-dashboard.json', () => {
  it('asks for its Prometheus data source, and every panel and query uses it', () => {
    const datasource = variables.find((v) => v.name === 'datasource');
    expect(datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const chosen = { type: 'prometheus', uid: '${datasource}' };
    for (const v of variables.filter((v) => v.type === 'query')) expect(v.datasource, v.name).toEqual(chosen);
    for (const panel of queryPanels) {
      expect(panel.datasource, panel.title).toEqual(chosen);
      expect(panel.targets!.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets!) expect(target.datasource, panel.title).toEqual(chosen);
      expect(panel.description, panel.title).toBeTruthy();
    }
  });

  it('lays its panels out on the 24-column grid, without overlaps, with ids of their own', () => {
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const cells = new Map<string, string>();
    for (const { title, gridPos: { x, y, w, h } } of panels) {
      expect(x + w, title).toBeLessThanOrEqual(24);
      for (let col = x; col < x + w; col++) {
        for (let row = y; row < y + h; row++) {
          const key = `${col},${row}`;
          expect(cells.get(key), `${title} overlaps ${cells.get(key)}`).toBeUndefined();
          cells.set(key, title);
        }
      }
    }
  });

  withPromtool(`has queries that are valid PromQL (promtool check rules, as recording rules)${NEEDS_PROMTOOL}`, () => {
    const file = join(mkdtempSync(join(tmpdir(), 'selfhost-dashboard-')), 'queries.yaml');
    // Grafana's variables as Prometheus would receive them.
    const records = dashboardQueries.map(({ expr }, i) => ({ record: `dashboard:query_${i}`, expr: expr.replaceAll('$__rate_interval', '5m') }));
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: records }] }));
    const { status, output } = promtool(['check', 'rules', file]);
    expect(output).toContain(`SUCCESS: ${records.length} rules found`);
    expect(status).toBe(0);
  });
});

describe('the metrics of a server and a worker', () => {
  let stack: Stack;
  let health: string;
  let tasks: TaskQueues;
  let redis: Redis;

  beforeAll(async () => {
    const port = await freePort();
    health = `http://127.0.0.1:${port}`;
    stack = await startStack({ workerEntry: 'test/fixtures/worker.ts', worker: { health_port: port, health_host: '127.0.0.1' } });
    redis = new Redis(redisUrl());
    tasks = new TaskQueues({ connection: redis, prefix: stack.prefix, resultTtl: 600, services });
  });

  afterAll(async () => {
    await tasks?.close();
    redis?.disconnect();
    await stack?.stop();
  });

  const serverMetrics = async () => (await fetch(`${stack.base}/metrics`, { headers: { Authorization: basic('alice') } })).text();
  const workerMetrics = async () => (await fetch(`${health}/metrics`)).text();
  const submit = (name: string, input: unknown) => tasks.submit(services.find((s) => s.name === name)!, input, 'alice');
  const reaches = (id: string, states: string[]) =>
    eventually(async () => {
      const status = (await tasks.status(id, 'alice'))!;
      return states.includes(status.task_status) ? status : undefined;
    });
  const FINAL = ['SUCCESS', 'FAILURE', 'REVOKED'];

  it('count each task by its outcome: succeeded, failed, timed_out, revoked, and each retried attempt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'selfhost-metrics-'));
    expect(await reaches(await submit('sleep', { seconds: 0 }), FINAL)).toMatchObject({ task_status: 'SUCCESS' });
    expect(await reaches(await submit('maths', { op: 'div', a: 1, b: 0 }), FINAL)).toMatchObject({ task_status: 'FAILURE' });
    expect(await reaches(await submit('partial', {}), FINAL)).toMatchObject({ task_status: 'FAILURE', error: 'timed out after 1 s' });
    // Fails twice, then succeeds on its third attempt.
    expect(await reaches(await submit('flaky', { file: join(dir, 'flaky') }), FINAL)).toMatchObject({ task_status: 'SUCCESS' });
    const cancelled = await submit('quiet', { seconds: 60 });
    await reaches(cancelled, ['STARTED']);
    const res = await fetch(`${stack.base}/tasks/${cancelled}`, { method: 'DELETE', headers: { Authorization: basic('alice') } });
    expect((await res.json()).task_status).toBe('REVOKED');

    const count = (m: ReturnType<typeof parseMetrics>, service: string, outcome: string) =>
      sample(m, 'selfhost_job_duration_seconds_count', { queue: 'tasks', service, outcome });
    // The worker counts the revoked task once its run has stopped.
    const m = await eventually(async () => {
      const m = parseMetrics(await workerMetrics());
      return count(m, 'quiet', 'revoked') ? m : undefined;
    });
    const counted = m
      .filter((s) => s.name === 'selfhost_job_duration_seconds_count')
      .map((s) => `${s.labels.service} ${s.labels.outcome} ${s.value}`)
      .sort();
    expect(counted).toEqual(['flaky retried 2', 'flaky succeeded 1', 'maths failed 1', 'partial timed_out 1', 'quiet revoked 1', 'sleep succeeded 1']);
  });

  it('time how long each task waited in the queue before its first start, by service', async () => {
    const m = parseMetrics(await workerMetrics());
    const waited = m
      .filter((s) => s.name === 'selfhost_job_queue_wait_seconds_count')
      .map((s) => `${s.labels.service} ${s.value}`)
      .sort();
    // flaky ran three times, and is counted once.
    expect(waited).toEqual(['flaky 1', 'maths 1', 'partial 1', 'quiet 1', 'sleep 1']);
    for (const s of m.filter((s) => s.name === 'selfhost_job_queue_wait_seconds_sum')) expect(s.value).toBeGreaterThanOrEqual(0);
    expect(sample(m, 'selfhost_job_queue_wait_seconds_bucket', { service: 'sleep', le: '+Inf' })).toBe(1);
  });

  withPromtool(`follow Prometheus' naming rules (promtool check metrics), on the server and the worker${NEEDS_PROMTOOL}`, async () => {
    for (const [who, text] of [['server', await serverMetrics()], ['worker', await workerMetrics()]]) {
      const { status, output } = promtool(['check', 'metrics'], text);
      expect(output, who).toBe('');
      expect(status, who).toBe(0);
    }
  });

  it('hold every metric the dashboard and the alerting rules query', async () => {
    const exported = new Set([...exportedNames(await serverMetrics()), ...exportedNames(await workerMetrics())]);
    const queries = [...dashboardQueries, ...rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }))];
    const missing = queries.flatMap(({ where, expr }) => metricNames(expr).filter((name) => !exported.has(name)).map((name) => `${where}: ${name}`));
    expect(missing).toEqual([]);
    for (const { where, expr } of queries) expect(metricNames(expr).length, where).toBeGreaterThan(0);
  });

  it('are checked for real: the name check finds the metrics in PromQL, and only them', () => {
    expect(
      metricNames('histogram_quantile(0.95, sum by (le, service) (rate(selfhst_job_seconds_bucket{queue=~"$queue", a="b{c}"}[$__rate_interval])))'),
    ).toEqual(['selfhst_job_seconds_bucket']);
    expect(metricNames('max by (queue) (a_total) == 0 and on (queue) b offset 5m > 1e3 unless c[5m:1m]')).toEqual(['a_total', 'b', 'c']);
  });
});
