/**
 * Small typed helpers for validating configuration sections. Every section validates its raw
 * (TOML/env/flag-merged) object into a frozen typed value; unknown keys are rejected so typos
 * are caught instead of silently ignored.
 */
import { CocoonError } from '../common/errors.js';

/** One `[section]` of the configuration file. */
export interface ConfigSection<T> {
  /** TOML table name (also the env prefix COCOON_<NAME>_). */
  readonly name: string;
  /** Defaults, as named DEFAULT_* constants. */
  defaults(): T;
  /** Validates merged raw input (defaults already applied underneath) into the typed value. */
  validate(raw: unknown): T;
}

/** A typed ERR_CONFIG_INVALID. */
export function configError(message: string): CocoonError {
  return new CocoonError('ERR_CONFIG_INVALID', message);
}

/** Plain object check. */
export function asObject(raw: unknown, where: string): Record<string, unknown> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw configError(`${where} must be a table`);
  return raw as Record<string, unknown>;
}

/** Rejects keys not in `allowed`. */
export function rejectUnknownKeys(
  o: Record<string, unknown>,
  allowed: readonly string[],
  where: string,
): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k))
      throw configError(`${where}: unknown key "${k}" (allowed: ${allowed.join(', ')})`);
  }
}

export function takeString(o: Record<string, unknown>, key: string, where: string, dflt: string): string {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'string') throw configError(`${where}.${key} must be a string`);
  return v;
}

export function takeOptString(o: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw configError(`${where}.${key} must be a string`);
  return v;
}

export function takeBool(o: Record<string, unknown>, key: string, where: string, dflt: boolean): boolean {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw configError(`${where}.${key} must be true or false`);
  return v;
}

export function takeInt(
  o: Record<string, unknown>,
  key: string,
  where: string,
  dflt: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const v = o[key];
  if (v === undefined) return dflt;
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw configError(`${where}.${key} must be an integer in [${min}, ${max}]`);
  }
  return n;
}

export function takeStringArray(
  o: Record<string, unknown>,
  key: string,
  where: string,
  dflt: string[],
): string[] {
  const v = o[key];
  if (v === undefined) return dflt;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw configError(`${where}.${key} must be an array of strings`);
  }
  return [...(v as string[])];
}
