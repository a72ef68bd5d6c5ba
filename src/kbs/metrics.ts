/**
 * Prometheus metrics of one KBS instance (its own registry, so several servers in one process do
 * not collide). Names follow Trustee's `kbs_http_request_duration_seconds` (kbs-protocol.md §14).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The metric set. */
export interface KbsMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'endpoint' | 'status'>;
  readonly duration: Histogram<'endpoint'>;
  readonly attestations: Counter<'tee' | 'result'>;
  readonly sessions: Gauge;
}

/** Creates a fresh registry with the KBS metrics. */
export function createMetrics(): KbsMetrics {
  const registry = new Registry();
  return {
    registry,
    requests: new Counter({
      name: 'kbs_http_requests_total',
      help: 'HTTP requests by endpoint and status',
      labelNames: ['endpoint', 'status'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'kbs_http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['endpoint'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    attestations: new Counter({
      name: 'kbs_attestations_total',
      help: 'Attestations by TEE and result',
      labelNames: ['tee', 'result'],
      registers: [registry],
    }),
    sessions: new Gauge({ name: 'kbs_sessions', help: 'Live sessions', registers: [registry] }),
  };
}
