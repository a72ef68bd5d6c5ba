/**
 * Prometheus metrics of the CRI server (prom-client) served on their own listener: RPC counts
 * by method and gRPC code, latencies, errors, and the heavy-operation queue. Names follow the
 * kubelet's runtime_operations family (cri-kata.md §8.2).
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CocoonError, messageOf } from '../common/errors.js';

/** The server's metric set. */
export class CriMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'code'>;
  readonly errors: Counter<'method' | 'code'>;
  readonly latency: Histogram<'method'>;
  readonly queue: Gauge<'state'>;

  constructor(queueDepth: () => { active: number; queued: number }) {
    this.requests = new Counter({
      name: 'cocoon_cri_requests_total',
      help: 'CRI RPCs answered, by method and gRPC status code',
      labelNames: ['method', 'code'],
      registers: [this.registry],
    });
    this.errors = new Counter({
      name: 'cocoon_cri_errors_total',
      help: 'CRI RPCs that failed, by method and Cocoon error code',
      labelNames: ['method', 'code'],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: 'cocoon_cri_request_duration_seconds',
      help: 'CRI RPC latency',
      labelNames: ['method'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
      registers: [this.registry],
    });
    this.queue = new Gauge({
      name: 'cocoon_cri_operations_queue',
      help: 'heavy operations running (active) and waiting (queued)',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const d = queueDepth();
        this.set({ state: 'active' }, d.active);
        this.set({ state: 'queued' }, d.queued);
      },
    });
  }

  /** Records one finished RPC. */
  observe(method: string, code: number, seconds: number, errorCode?: string): void {
    this.requests.inc({ method, code: String(code) });
    this.latency.observe({ method }, seconds);
    if (errorCode !== undefined) this.errors.inc({ method, code: errorCode });
  }

  /** Serves /metrics on host:port (or tcp://host:port); returns the bound address. */
  async listen(address: string): Promise<{ url: string; close: () => Promise<void> }> {
    const a = address.replace(/^tcp:\/\//, '');
    const i = a.lastIndexOf(':');
    const host = a.slice(0, i).replace(/^\[|\]$/g, '') || '127.0.0.1';
    const port = Number(a.slice(i + 1));
    if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
      throw new CocoonError('ERR_CRI_SERVER', `metrics_listen "${address}" is not host:port`);
    }
    const server: Server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      this.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(body),
        (e: unknown) => res.writeHead(500).end(messageOf(e)),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) =>
        reject(
          new CocoonError('ERR_CRI_SERVER', `metrics listener ${address}: ${messageOf(e)}`, { cause: e }),
        ),
      );
      server.listen(port, host, () => resolve());
    });
    const bound = server.address();
    const p = typeof bound === 'object' && bound !== null ? bound.port : port;
    return {
      url: `http://${host.includes(':') ? `[${host}]` : host}:${p}/metrics`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }
}
