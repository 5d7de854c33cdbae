// The process metrics the server and the worker both export: prom-client's defaults, less three misnamed ones.
import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * Gauges with a counter's `_total` suffix, which Prometheus' naming rules (`promtool check metrics`) refuse;
 * each is the sum over `type` of the gauge of the same name without the suffix, which stays.
 */
const MISNAMED = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** Adds prom-client's default metrics (memory, CPU, event-loop lag, GC) to `registry`. */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED) registry.removeSingleMetric(name);
}
