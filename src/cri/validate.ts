/**
 * Request validation: malformed requests get INVALID_ARGUMENT naming the field (issue 7). Every
 * check reads the decoded request once (proto-loader objects, defaults on).
 */
import { CocoonError } from '../common/errors.js';
import type { Msg } from './state/model.js';

/** An ERR_CRI_INVALID_ARGUMENT naming `field`. */
export function invalidField(field: string, why: string): CocoonError {
  return new CocoonError('ERR_CRI_INVALID_ARGUMENT', `${field}: ${why}`, { details: { field } });
}

/** A non-empty string field. */
export function requireString(req: Msg, field: string, path = field): string {
  const v = req[field];
  if (typeof v !== 'string' || v === '') throw invalidField(path, 'must be a non-empty string');
  return v;
}

/** A present sub-message. */
export function requireMessage(req: Msg, field: string, path = field): Msg {
  const v = req[field];
  if (v === null || v === undefined || typeof v !== 'object') throw invalidField(path, 'is required');
  return v as Msg;
}

/** A map<string,string> whose keys are non-empty. */
export function checkStringMap(v: unknown, path: string): void {
  if (v === null || v === undefined) return;
  for (const k of Object.keys(v as object)) if (k === '') throw invalidField(path, 'has an empty key');
}

/** PodSandboxConfig: metadata name/namespace/uid non-empty (the kubelet re-reads them, §1.3). */
export function checkPodSandboxConfig(config: Msg, prefix = 'config'): void {
  const m = requireMessage(config, 'metadata', `${prefix}.metadata`);
  requireString(m, 'name', `${prefix}.metadata.name`);
  requireString(m, 'namespace', `${prefix}.metadata.namespace`);
  requireString(m, 'uid', `${prefix}.metadata.uid`);
  checkStringMap(config['labels'], `${prefix}.labels`);
  checkStringMap(config['annotations'], `${prefix}.annotations`);
}

/** ContainerConfig: metadata name and image.image non-empty. */
export function checkContainerConfig(config: Msg): void {
  const m = requireMessage(config, 'metadata', 'config.metadata');
  requireString(m, 'name', 'config.metadata.name');
  const img = requireMessage(config, 'image', 'config.image');
  requireString(img, 'image', 'config.image.image');
  checkStringMap(config['labels'], 'config.labels');
  checkStringMap(config['annotations'], 'config.annotations');
  const lp = config['log_path'];
  if (typeof lp === 'string' && (lp.startsWith('/') || lp.split('/').includes('..'))) {
    throw invalidField('config.log_path', 'must be relative to the pod log directory');
  }
}

/** A non-negative int64 given as a decimal string (proto-loader longs: String). */
export function nonNegative(req: Msg, field: string): number {
  const n = Number(req[field] ?? 0);
  if (!Number.isFinite(n) || n < 0) throw invalidField(field, 'must not be negative');
  return n;
}
