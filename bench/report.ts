// The figures of a run beside their baselines and targets: a table for the terminal and a JSON record.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Target {
  /** `ratio ≥ n`, `ratio ≤ n` against the baseline, or `value < n` in the figure's own unit. */
  kind: 'ratio-min' | 'ratio-max' | 'value-max';
  limit: number;
}

export interface Figure {
  key: string;
  label: string;
  unit: string;
  value: number;
  baseline: { label: string; value: number };
  ratio: number;
  target?: Target;
  met?: boolean;
}

export function figure(key: string, label: string, unit: string, value: number, baseline: Figure['baseline'], target?: Target): Figure {
  const ratio = value / baseline.value;
  const met =
    target &&
    (target.kind === 'ratio-min' ? ratio >= target.limit : target.kind === 'ratio-max' ? ratio <= target.limit : value < target.limit);
  return { key, label, unit, value, baseline, ratio, target, met };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(n >= 10 ? 1 : 2));

function targetText(t: Target | undefined, unit: string): string {
  if (!t) return '';
  return t.kind === 'ratio-min' ? `≥ ${t.limit}×` : t.kind === 'ratio-max' ? `≤ ${t.limit}×` : `< ${t.limit} ${unit}`;
}

/** A Markdown table, readable as it is on a terminal and pasted as it is into docs/performance.md. */
export function table(figures: Figure[]): string {
  const rows = [
    ['figure', 'value', 'baseline (same run)', 'ratio', 'target', 'met'],
    ...figures.map((f) => [
      f.label,
      `${fmt(f.value)} ${f.unit}`,
      `${fmt(f.baseline.value)} ${f.unit} (${f.baseline.label})`,
      `${f.ratio < 0.1 ? f.ratio.toPrecision(2) : f.ratio.toFixed(2)}×`,
      targetText(f.target, f.unit),
      f.met === undefined ? '' : f.met ? 'yes' : '**no**',
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(rows[0]), line(widths.map((w) => '-'.repeat(w))), ...rows.slice(1).map(line)].join('\n');
}

/** Writes `<dir>/<timestamp>.json`, and `<dir>/latest.json` too unless `latest` is false; returns the first. */
export function writeResults(dir: string, record: object, latest: boolean): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const text = `${JSON.stringify(record, null, 2)}\n`;
  writeFileSync(file, text);
  if (latest) writeFileSync(join(dir, 'latest.json'), text);
  return file;
}
