/**
 * OCI annotation keys Kata and its genpolicy read, laid out as containerd's CRI plugin writes
 * them (cri-kata.md §3.2, §4.3; containerd internal/cri/annotations/annotations.go), plus the
 * Kata keys of §3.3 and §3.8.
 */

/** Annotation keys written by containerd's CRI plugin (cri-kata.md §3.2). */
export const CRI_ANNOTATIONS = {
  /** `sandbox` or `container`; Kata's oci.ContainerType (§4.3). */
  containerType: 'io.kubernetes.cri.container-type',
  /** Which shim/VM a container joins (§4.3). */
  sandboxId: 'io.kubernetes.cri.sandbox-id',
  sandboxName: 'io.kubernetes.cri.sandbox-name',
  sandboxNamespace: 'io.kubernetes.cri.sandbox-namespace',
  sandboxUid: 'io.kubernetes.cri.sandbox-uid',
  sandboxLogDirectory: 'io.kubernetes.cri.sandbox-log-directory',
  sandboxImageName: 'io.kubernetes.cri.podsandbox.image-name',
  containerName: 'io.kubernetes.cri.container-name',
  /** The guest-pull image reference: user_specified_image when non-empty (§3.2, §3.4). */
  imageName: 'io.kubernetes.cri.image-name',
  /** VM sizing keys read when static_sandbox_resource_mgmt = true (§4.3). */
  sandboxCpuPeriod: 'io.kubernetes.cri.sandbox-cpu-period',
  sandboxCpuQuota: 'io.kubernetes.cri.sandbox-cpu-quota',
  sandboxCpuShares: 'io.kubernetes.cri.sandbox-cpu-shares',
  sandboxMemory: 'io.kubernetes.cri.sandbox-memory',
  runtimeHandler: 'io.containerd.cri.runtime-handler',
} as const;

/** Values of `io.kubernetes.cri.container-type`. */
export const CONTAINER_TYPE = { sandbox: 'sandbox', container: 'container' } as const;

/** Kata annotation keys (cri-kata.md §3.3, §3.8; guest.md §4.2). */
export const KATA_ANNOTATIONS = {
  /** gzip + base64 initdata TOML (guest.md §4.2). */
  initData: 'io.katacontainers.config.hypervisor.cc_init_data',
  kernelParams: 'io.katacontainers.config.hypervisor.kernel_params',
  agentPolicy: 'io.katacontainers.config.agent.policy',
  createContainerTimeout: 'io.katacontainers.config.runtime.create_container_timeout',
  forceGuestPull: 'io.katacontainers.config.runtime.experimental_force_guest_pull',
} as const;

/** Mount option prefix carrying a base64 KataVirtualVolume (cri-kata.md §3.3, Go VirtualVolumePrefix). */
export const KATA_VOLUME_OPTION_PREFIX = 'io.katacontainers.volume=';

/** Pod annotations forwarded into the sandbox spec by default (containerd's pod_annotations, §3.2). */
export const DEFAULT_POD_ANNOTATION_ALLOWLIST: readonly string[] = ['io.katacontainers.*'];

/** True when `key` matches one allow-list pattern (exact, or a prefix ending in `*`). */
export function annotationAllowed(key: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => (p.endsWith('*') ? key.startsWith(p.slice(0, -1)) : key === p));
}

/** The subset of `annotations` whose keys match the allow-list, in input order. */
export function filterAnnotations(
  annotations: Readonly<Record<string, string>>,
  patterns: readonly string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(annotations)) if (annotationAllowed(k, patterns)) out[k] = v;
  return out;
}
