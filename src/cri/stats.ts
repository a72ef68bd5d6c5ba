/**
 * Stats and metrics messages (cri-kata.md §6) built from backend usage samples. Every sample
 * carries a non-zero timestamp (critest checks cpu/memory timestamps); values the runtime could
 * not measure are left out rather than reported as zero.
 */
import { nanos } from './ids.js';
import type { BackendUsage } from './backend.js';
import type { CriRuntime } from './runtime.js';
import { KIND, type ContainerRecord, type Msg, type PodRecord } from './state/model.js';

function u64(v: number | undefined): Msg | undefined {
  return v === undefined ? undefined : { value: String(Math.max(0, Math.trunc(v))) };
}

function compact(o: Record<string, unknown>): Msg {
  const out: Msg = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}

/** ContainerStats for a record and an optional sample. */
export function containerStatsMessage(
  c: ContainerRecord,
  u: BackendUsage | undefined,
  now: number,
  mountpoint: string,
): Msg {
  const ts = nanos(u?.timestamp ?? now);
  return {
    attributes: {
      id: c.id,
      metadata: c.config['metadata'],
      labels: c.config['labels'] ?? {},
      annotations: c.config['annotations'] ?? {},
    },
    cpu: compact({ timestamp: ts, usage_core_nano_seconds: u64(u?.cpuUsageNanos ?? 0) }),
    memory: compact({
      timestamp: ts,
      working_set_bytes: u64(u?.memoryWorkingSetBytes ?? 0),
      usage_bytes: u64(u?.memoryUsageBytes),
      rss_bytes: u64(u?.memoryRssBytes),
      page_faults: u64(u?.pageFaults),
      major_page_faults: u64(u?.majorPageFaults),
    }),
    writable_layer: {
      timestamp: ts,
      fs_id: { mountpoint },
      used_bytes: { value: '0' },
      inodes_used: { value: '0' },
    },
  };
}

/** Stats of every visible container matching a ContainerStatsFilter. */
export async function listContainerStats(
  rt: CriRuntime,
  filter: Msg | null,
  mountpoint: string,
): Promise<Msg[]> {
  const f = filter ?? {};
  const id = typeof f['id'] === 'string' ? f['id'] : '';
  const podId = typeof f['pod_sandbox_id'] === 'string' ? f['pod_sandbox_id'] : '';
  const sel = (f['label_selector'] ?? {}) as Record<string, string>;
  const out: Msg[] = [];
  for (const c of rt.containers()) {
    if (id !== '' && !c.id.startsWith(id)) continue;
    if (podId !== '' && !c.podId.startsWith(podId)) continue;
    if (
      !Object.entries(sel).every(
        ([k, v]) => (c.config['labels'] as Record<string, string> | undefined)?.[k] === v,
      )
    )
      continue;
    out.push(containerStatsMessage(c, await rt.containerUsage(c), Date.now(), mountpoint));
  }
  return out;
}

/** PodSandboxStats: container samples summed into the pod (the VM/cgroup totals when known). */
export async function podStatsMessage(rt: CriRuntime, p: PodRecord, mountpoint: string): Promise<Msg> {
  const now = Date.now();
  const ctrs = rt.containers().filter((c) => c.podId === p.id);
  const samples = await Promise.all(ctrs.map(async (c) => ({ c, u: await rt.containerUsage(c) })));
  const sum = (k: keyof BackendUsage): number => samples.reduce((a, s) => a + Number(s.u?.[k] ?? 0), 0);
  const ts = nanos(now);
  return {
    attributes: {
      id: p.id,
      metadata: p.config['metadata'],
      labels: p.config['labels'] ?? {},
      annotations: p.config['annotations'] ?? {},
    },
    linux: {
      cpu: { timestamp: ts, usage_core_nano_seconds: u64(sum('cpuUsageNanos')) },
      memory: {
        timestamp: ts,
        working_set_bytes: u64(sum('memoryWorkingSetBytes')),
        usage_bytes: u64(sum('memoryUsageBytes')),
      },
      process: { timestamp: ts, process_count: u64(sum('processCount')) },
      containers: samples.map((s) => containerStatsMessage(s.c, s.u, now, mountpoint)),
    },
  };
}

/** Label keys of every container metric (cAdvisor names, as CRI-O's statsserver uses). */
export const METRIC_LABEL_KEYS = ['id', 'name', 'image', 'namespace', 'pod', 'container'] as const;

/** The static descriptor set (ListMetricDescriptors must not change while the kubelet runs, §6). */
export const METRIC_DESCRIPTORS: readonly {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE';
  field: keyof BackendUsage;
  scale: number;
}[] = [
  {
    name: 'container_cpu_usage_seconds_total',
    help: 'Cumulative cpu time consumed in seconds.',
    type: 'COUNTER',
    field: 'cpuUsageNanos',
    scale: 1e-9,
  },
  {
    name: 'container_memory_working_set_bytes',
    help: 'Current working set in bytes.',
    type: 'GAUGE',
    field: 'memoryWorkingSetBytes',
    scale: 1,
  },
  {
    name: 'container_memory_usage_bytes',
    help: 'Current memory usage in bytes.',
    type: 'GAUGE',
    field: 'memoryUsageBytes',
    scale: 1,
  },
  {
    name: 'container_memory_rss',
    help: 'Size of RSS in bytes.',
    type: 'GAUGE',
    field: 'memoryRssBytes',
    scale: 1,
  },
  {
    name: 'container_processes',
    help: 'Number of processes running inside the container.',
    type: 'GAUGE',
    field: 'processCount',
    scale: 1,
  },
];

/** ListMetricDescriptors body. */
export function metricDescriptors(): Msg[] {
  return METRIC_DESCRIPTORS.map((d) => ({ name: d.name, help: d.help, label_keys: [...METRIC_LABEL_KEYS] }));
}

/** PodSandboxMetrics of one pod. */
export async function podMetrics(rt: CriRuntime, p: PodRecord): Promise<Msg> {
  const now = Date.now();
  const m = (p.config['metadata'] ?? {}) as Record<string, string>;
  const containerMetrics: Msg[] = [];
  for (const c of rt.containers().filter((x) => x.podId === p.id)) {
    const u = await rt.containerUsage(c);
    const cm = (c.config['metadata'] ?? {}) as Record<string, string>;
    const labels = [c.id, c.name, c.imageRef, m['namespace'] ?? '', m['name'] ?? '', cm['name'] ?? ''];
    const metrics: Msg[] = [];
    for (const d of METRIC_DESCRIPTORS) {
      const v = u?.[d.field];
      if (v === undefined || typeof v !== 'number') continue;
      // UInt64Value carries integers; seconds totals are truncated like CRI-O does.
      metrics.push({
        name: d.name,
        timestamp: nanos(u?.timestamp ?? now),
        metric_type: d.type,
        label_values: labels,
        value: { value: String(Math.trunc(v * d.scale)) },
      });
    }
    containerMetrics.push({ container_id: c.id, metrics });
  }
  return { pod_sandbox_id: p.id, metrics: [], container_metrics: containerMetrics };
}

/** Filters visible pods by a PodSandboxFilter / PodSandboxStatsFilter. */
export function filterPods(rt: CriRuntime, filter: Msg | null): PodRecord[] {
  const f = filter ?? {};
  const id = typeof f['id'] === 'string' ? f['id'] : '';
  const state = ((f['state'] ?? null) as Msg | null)?.['state'];
  const sel = (f['label_selector'] ?? {}) as Record<string, string>;
  return rt.pods().filter((p) => {
    if (id !== '' && !p.id.startsWith(id)) return false;
    if (
      state !== undefined &&
      state !== null &&
      (p.phase === 'ready' ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY') !== state
    )
      return false;
    const labels = (p.config['labels'] ?? {}) as Record<string, string>;
    return Object.entries(sel).every(([k, v]) => labels[k] === v);
  });
}

/** Filters visible containers by a ContainerFilter. */
export function filterContainers(
  rt: CriRuntime,
  filter: Msg | null,
  stateOf: (c: ContainerRecord) => string,
): ContainerRecord[] {
  const f = filter ?? {};
  const id = typeof f['id'] === 'string' ? f['id'] : '';
  const podId = typeof f['pod_sandbox_id'] === 'string' ? f['pod_sandbox_id'] : '';
  const state = ((f['state'] ?? null) as Msg | null)?.['state'];
  const sel = (f['label_selector'] ?? {}) as Record<string, string>;
  return rt.containers().filter((c) => {
    if (id !== '' && !c.id.startsWith(id)) return false;
    if (podId !== '' && !c.podId.startsWith(podId)) return false;
    if (state !== undefined && state !== null && stateOf(c) !== state) return false;
    const labels = (c.config['labels'] ?? {}) as Record<string, string>;
    return Object.entries(sel).every(([k, v]) => labels[k] === v);
  });
}

/** Store kinds re-exported for handler files. */
export { KIND };
