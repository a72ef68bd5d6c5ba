/**
 * Benchmark harness. Every benchmark measures its subject next to a baseline run in the same
 * process and moment (raw crypto, a bare echo), because these machines are noisy, and prints the
 * ratio. Loops are bounded by both an operation count and a time budget.
 */
import { performance } from 'node:perf_hooks';

/** Result of one measured series. */
export interface Series {
  readonly name: string;
  readonly ops: number;
  readonly seconds: number;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** Options of measure(). */
export interface MeasureOptions {
  /** Concurrent callers (default 1). */
  readonly concurrency?: number;
  /** Stop after this many operations (default 2000). */
  readonly maxOps?: number;
  /** Stop after this many milliseconds (default 3000). */
  readonly maxMs?: number;
  /** Untimed warm-up operations (default 50). */
  readonly warmup?: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** Runs `op` under the given concurrency until maxOps or maxMs, and returns throughput and latency. */
export async function measure(
  name: string,
  op: () => Promise<unknown> | unknown,
  opts: MeasureOptions = {},
): Promise<Series> {
  const concurrency = opts.concurrency ?? 1;
  const maxOps = opts.maxOps ?? 2000;
  const maxMs = opts.maxMs ?? 3000;
  for (let i = 0; i < (opts.warmup ?? 50); i++) await op();
  const lat: number[] = [];
  let started = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (started < maxOps && performance.now() - t0 < maxMs) {
      started++;
      const s = performance.now();
      await op();
      lat.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return {
    name,
    ops: lat.length,
    seconds,
    opsPerSec: lat.length / seconds,
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
  };
}

/** Prints a subject next to its baseline, with the cost ratio (baseline ops/s ÷ subject ops/s). */
export function report(
  title: string,
  subject: Series,
  baseline: Series,
  goal?: number,
): { ratio: number; ok: boolean | undefined } {
  const ratio = baseline.opsPerSec / subject.opsPerSec;
  const ok = goal === undefined ? undefined : ratio <= goal;
  const fmt = (s: Series): string =>
    `${s.name.padEnd(44)} ${s.opsPerSec.toFixed(0).padStart(9)} ops/s  p50 ${s.p50Ms.toFixed(3)} ms  p99 ${s.p99Ms.toFixed(3)} ms  (${s.ops} ops)`;
  console.log(`\n## ${title}`);
  console.log(fmt(baseline));
  console.log(fmt(subject));
  console.log(
    `ratio (cost vs baseline): ${ratio.toFixed(2)}x${goal === undefined ? '' : `  goal <= ${goal}x: ${ok ? 'met' : 'NOT met'}`}`,
  );
  return { ratio, ok };
}
