/**
 * A built-in RVPS (kbs-protocol.md §7.4): registration messages `{"version":"0.1.0","type":
 * "sample","payload":"<std base64 of {name: value}>"}` store each name with a 12-month expiry;
 * queries return the stored value only. Persisted atomically as JSON in the state directory.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../common/clock.js';
import { CocoonError } from '../common/errors.js';
import { fromB64std, parseJsonText } from '../kbs-protocol/index.js';
import { writeFileAtomic } from './atomic-file.js';

/** File name in the state directory. */
export const REFERENCE_VALUES_FILE = 'reference-values.json';
/** The only message version Trustee's RVPS accepts (§7.4). */
export const RVPS_MESSAGE_VERSION = '0.1.0';
/** Most reference values held (each registration may add many names). */
export const MAX_REFERENCE_VALUES = 10_000;

/** One stored record (§7.4). */
export interface ReferenceValueRecord {
  readonly version: string;
  readonly name: string;
  readonly expiration: string;
  readonly value: unknown;
}

function invalid(message: string, cause?: unknown): CocoonError {
  return new CocoonError('ERR_KBS_REFERENCE_VALUE_INVALID', message, cause === undefined ? {} : { cause });
}

/** Reference-value store. */
export class ReferenceValueStore {
  private readonly values = new Map<string, ReferenceValueRecord>();
  private readonly file: string | undefined;
  private readonly clock: Clock;

  constructor(stateDir: string | undefined, clock: Clock) {
    this.file = stateDir === undefined ? undefined : join(stateDir, REFERENCE_VALUES_FILE);
    this.clock = clock;
  }

  /** Loads persisted values (absent file = empty store). */
  async load(): Promise<void> {
    if (this.file === undefined) return;
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    const list = parseJsonText(text, REFERENCE_VALUES_FILE);
    if (!Array.isArray(list)) throw invalid(`${this.file} is not a JSON array`);
    for (const r of list as ReferenceValueRecord[])
      if (typeof r?.name === 'string') this.values.set(r.name, r);
  }

  /** Registers a message; returns the names stored. */
  async register(messageText: string): Promise<string[]> {
    const msg = parseJsonText(messageText, 'reference-value message');
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg))
      throw invalid('message must be a JSON object');
    const m = msg as Record<string, unknown>;
    const version = m['version'] ?? RVPS_MESSAGE_VERSION;
    const type = m['type'];
    const payload = m['payload'];
    if (version !== RVPS_MESSAGE_VERSION) throw invalid(`message version must be ${RVPS_MESSAGE_VERSION}`);
    if (type !== 'sample') throw invalid(`extractor ${String(type)} is not supported (only "sample")`);
    if (typeof payload !== 'string') throw invalid('payload must be a string');
    let decoded: unknown;
    try {
      decoded = parseJsonText(fromB64std(payload, 'payload'), 'payload');
    } catch (e) {
      throw invalid('payload must be standard base64 of a JSON object', e);
    }
    if (decoded === null || typeof decoded !== 'object' || Array.isArray(decoded))
      throw invalid('payload must be a JSON object');
    const entries = Object.entries(decoded as Record<string, unknown>);
    if (this.values.size + entries.length > MAX_REFERENCE_VALUES) throw invalid('too many reference values');
    const exp = new Date(this.clock.now().getTime());
    exp.setUTCMonth(exp.getUTCMonth() + 12);
    const expiration = exp.toISOString().replace(/\.\d{3}Z$/, 'Z');
    for (const [name, value] of entries) {
      this.values.set(name, { version: RVPS_MESSAGE_VERSION, name, expiration, value });
    }
    await this.persist();
    return entries.map(([n]) => n);
  }

  /** Value of an unexpired reference value; undefined when absent (policy query). */
  query(name: string): unknown {
    const r = this.values.get(name);
    if (r === undefined) return undefined;
    if (Date.parse(r.expiration) <= this.clock.now().getTime()) return undefined;
    return r.value;
  }

  /** Value for the admin GET; ERR_KBS_REFERENCE_VALUE_NOT_FOUND when absent. */
  get(name: string): unknown {
    const v = this.query(name);
    if (v === undefined)
      throw new CocoonError(
        'ERR_KBS_REFERENCE_VALUE_NOT_FOUND',
        `no reference value ${JSON.stringify(name.slice(0, 64))}`,
      );
    return v;
  }

  private async persist(): Promise<void> {
    if (this.file === undefined) return;
    await writeFileAtomic(this.file, Buffer.from(JSON.stringify([...this.values.values()])));
  }
}
