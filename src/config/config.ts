/**
 * Configuration is resolved once, in one direction: TOML file → environment → flags →
 * per-section validate() → a frozen object handed to constructors. `cocoon config print` shows
 * the result. Environment: COCOON_CONFIG names the file; COCOON_<SECTION>_<KEY>=value sets
 * `[section] key` (value parsed as JSON when it parses, else taken as a string).
 */
import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { CocoonError, messageOf } from '../common/errors.js';
import { configError, type ConfigSection } from './schema.js';
import { SECTIONS } from './sections/index.js';

/** The effective configuration: one validated value per section name. */
export type CocoonConfig = Readonly<Record<string, unknown>>;

/** Inputs to loadConfig. */
export interface LoadConfigOptions {
  /** Config file path; default env COCOON_CONFIG; absent means defaults only. */
  readonly file?: string | undefined;
  /** Environment; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Flag overrides as dotted keys ("cri.listen" → value). Applied last. */
  readonly overrides?: Readonly<Record<string, unknown>>;
  /** Sections to use; default all registered sections. */
  readonly sections?: readonly ConfigSection<unknown>[];
}

/** Where the effective configuration came from, for `config print`. */
export interface LoadedConfig {
  readonly config: CocoonConfig;
  readonly file: string | undefined;
}

type Raw = Record<string, Record<string, unknown>>;

function parseValue(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

function setDotted(raw: Raw, dotted: string, value: unknown, names: readonly string[]): void {
  const i = dotted.indexOf('.');
  const section = i < 0 ? '' : dotted.slice(0, i);
  const key = i < 0 ? '' : dotted.slice(i + 1);
  if (!names.includes(section) || key === '') {
    throw configError(`unknown setting "${dotted}" (use SECTION.KEY; sections: ${names.join(', ')})`);
  }
  const s = (raw[section] ??= {});
  // Nested keys (handlers.kata-qemu-tdx.shim) create tables on the way.
  const parts = key.split('.');
  let cur: Record<string, unknown> = s;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (next === undefined || typeof next !== 'object' || next === null) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    if (
      v !== null &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      prev !== null &&
      typeof prev === 'object' &&
      !Array.isArray(prev)
    ) {
      out[k] = deepMerge(prev as Record<string, unknown>, v as Record<string, unknown>);
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** Reads and parses a TOML config file into raw tables. */
export function readConfigFile(path: string): Raw {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CocoonError('ERR_CONFIG_NOT_FOUND', `cannot read config file ${path}: ${messageOf(e)}`, {
      cause: e,
    });
  }
  let parsed: unknown;
  try {
    parsed = parseToml(text);
  } catch (e) {
    throw configError(`config file ${path} is not valid TOML: ${messageOf(e)}`);
  }
  return parsed as Raw;
}

/** Resolves file → env → flags → validate into a frozen configuration. */
export function loadConfig(opts: LoadConfigOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const sections = opts.sections ?? SECTIONS;
  const names = sections.map((s) => s.name);
  const file = opts.file ?? (env['COCOON_CONFIG'] || undefined);
  let raw: Raw = file === undefined ? {} : readConfigFile(file);
  for (const k of Object.keys(raw)) {
    if (!names.includes(k)) throw configError(`unknown config section [${k}] (known: ${names.join(', ')})`);
  }
  const envRaw: Raw = {};
  // Longest section name first so COCOON_KBS_CLIENT_URL matches kbs_client before kbs.
  const byLength = [...names].sort((x, y) => y.length - x.length);
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith('COCOON_') || v === undefined || k === 'COCOON_CONFIG') continue;
    const rest = k.slice('COCOON_'.length).toLowerCase();
    const section = byLength.find((n) => rest.startsWith(`${n.replace(/-/g, '_')}_`));
    if (section === undefined) continue;
    const key = rest.slice(section.length + 1);
    if (key === '') continue;
    setDotted(envRaw, `${section}.${key}`, parseValue(v), names);
  }
  const flagRaw: Raw = {};
  for (const [k, v] of Object.entries(opts.overrides ?? {})) setDotted(flagRaw, k, v, names);
  raw = deepMerge(deepMerge(raw, envRaw), flagRaw) as Raw;
  const config: Record<string, unknown> = {};
  for (const s of sections) config[s.name] = Object.freeze(s.validate(raw[s.name] ?? {}));
  return { config: Object.freeze(config), file };
}

/** Typed access to one section of a loaded configuration. */
export function section<T>(config: CocoonConfig, s: ConfigSection<T>): T {
  const v = config[s.name];
  if (v === undefined) throw configError(`config section [${s.name}] is not loaded`);
  return v as T;
}

/** Parses `--set key=value` strings into dotted overrides. */
export function parseSetFlags(sets: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of sets) {
    const i = s.indexOf('=');
    if (i <= 0) throw configError(`--set expects SECTION.KEY=VALUE, got "${s}"`);
    out[s.slice(0, i)] = parseValue(s.slice(i + 1));
  }
  return out;
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * The configuration in the file's own form (TOML key names are snake_case; typed sections may
 * use camelCase fields), so `cocoon config print` output can be saved and loaded back as-is.
 */
export function toFileForm(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toFileForm);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[snake(k)] = toFileForm(v);
  return out;
}
