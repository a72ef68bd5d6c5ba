/**
 * Fuzzing (issue: ≥ 10,000 cases in bounded time): random truncation, random garbage, single and
 * multiple byte flips, and hostile length fields on real quotes and CC event logs. Parsing may
 * only throw CocoonError with an ERR_ code; the Verifier may only return verdicts whose
 * failures carry ERR_ codes (never ERR_COMMON_INTERNAL, never a throw or a hang).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CocoonError } from '../../../../src/common/errors.js';
import { parseCcEventLog } from '../../../../src/attestation/eventlog/index.js';
import {
  QE_CD_AUTH_DATA_SIZE,
  SIG_CERT_DATA,
  SIG_CERT_DATA_SIZE,
  V4_SIG_DATA_LEN,
  V5_BODY_SIZE,
  parseQuote,
} from '../../../../src/attestation/tdx/abi.js';
import { parseTdxEvidence } from '../../../../src/attestation/tdx/verifier.js';
import { readShared } from '../../../helpers/shared.js';
import { PIN, dcapCollateral, tdx, verifyAt } from './helpers.js';
import { prng as rng } from '../../../helpers/prng.js';

function typedOnly(f: () => unknown): 'ok' | 'typed' {
  try {
    f();
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof CocoonError, `untyped error: ${String(e)}`);
    assert.match(e.code, /^ERR_(TDX|X509|COMMON_BYTES)_/);
    return 'typed';
  }
}

const QUOTES = [
  'dcapqvl-uptodate/quote.bin',
  'dcapqvl-outdated/quote.bin',
  'gotdx-v4-spr-e4/quote-v4.bin',
  'trustee/quote-v5.bin',
].map(tdx);
const HOSTILE = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

function mutate(r: () => number, base: Uint8Array): Uint8Array {
  const kind = Math.floor(r() * 5);
  if (kind === 0) return base.slice(0, Math.floor(r() * base.length));
  if (kind === 1) return new Uint8Array(Math.floor(r() * 2048)).map(() => Math.floor(r() * 256));
  const c = base.slice();
  if (kind === 2) {
    const n = 1 + Math.floor(r() * 8);
    for (let i = 0; i < n; i++) c[Math.floor(r() * c.length)] = Math.floor(r() * 256);
    return c;
  }
  // Hostile length fields (§1.1, §1.4): sig_data_len, v5 body size, cert data size, QE auth size.
  const v5 = c[0] === 5;
  const sdLenOff = v5 ? 0x36 + (Buffer.from(c).readUInt16LE(0x30) === 3 ? 648 : 584) : V4_SIG_DATA_LEN;
  const sd = sdLenOff + 4;
  const fields =
    kind === 3
      ? [sdLenOff, sd + SIG_CERT_DATA_SIZE, ...(v5 ? [V5_BODY_SIZE] : [])]
      : [sd + SIG_CERT_DATA + QE_CD_AUTH_DATA_SIZE];
  const off = fields[Math.floor(r() * fields.length)]!;
  const v = HOSTILE[Math.floor(r() * HOSTILE.length)]!;
  const b = Buffer.from(c.buffer, c.byteOffset, c.length);
  if (off + 4 <= b.length) {
    if (kind === 3) b.writeUInt32LE(v, off);
    else b.writeUInt16LE(v & 0xffff, off);
  }
  return c;
}

describe('fuzz', () => {
  test('pass_parse_quote_12000_cases_typed_errors_only', () => {
    const r = rng(0xc0c0);
    const t0 = Date.now();
    let typed = 0;
    for (let i = 0; i < 12_000; i++) {
      const input = mutate(r, QUOTES[i % QUOTES.length]!);
      if (typedOnly(() => parseQuote(input)) === 'typed') typed++;
    }
    assert.ok(typed > 6000, `only ${typed} cases were rejected — the fuzzer is not reaching the parser`);
    assert.ok(Date.now() - t0 < 20_000, 'fuzzing must stay bounded in time');
  });

  test('pass_evidence_json_garbage_typed_errors_only', () => {
    const r = rng(7);
    const shapes: unknown[] = [
      null,
      1,
      'x',
      [],
      {},
      { quote: 5 },
      { quote: '!!' },
      { quote: 'AAAA', cc_eventlog: 3 },
      { quote: Buffer.from(QUOTES[0]!).toString('base64'), cc_eventlog: 'AAAA' },
    ];
    for (const s of shapes) typedOnly(() => parseTdxEvidence(s as Record<string, unknown>));
    for (let i = 0; i < 500; i++) {
      const bytes = new Uint8Array(Math.floor(r() * 64)).map(() => Math.floor(r() * 256));
      bytes[0] = 0x7b;
      typedOnly(() => parseTdxEvidence(bytes));
    }
  });

  test('pass_eventlog_3000_cases_typed_errors_only', () => {
    const r = rng(42);
    const logs = [
      readShared('evidence', 'eventlog', 'trustee-ccel-ovmf.bin'),
      readShared('evidence', 'tdx', 'trustee', 'ccel-eventlog.bin').subarray(0, 8192),
    ].map((b) => new Uint8Array(b));
    for (let i = 0; i < 3000; i++) {
      const base = logs[i % logs.length]!;
      const c = i % 3 === 0 ? base.slice(0, Math.floor(r() * 4096)) : base.slice(0, 4096);
      if (i % 3 !== 0) for (let k = 0; k < 4; k++) c[Math.floor(r() * c.length)] = Math.floor(r() * 256);
      typedOnly(() => parseCcEventLog(c));
    }
  });

  test('pass_verifier_1500_mutations_verdicts_only', async () => {
    const r = rng(99);
    const coll = dcapCollateral('dcapqvl-uptodate');
    const base = QUOTES[0]!;
    for (let i = 0; i < 1500; i++) {
      const res = await verifyAt(mutate(r, base), PIN.uptodate, { collateral: coll });
      for (const f of res.failures) {
        assert.match(f.code, /^ERR_(TDX|X509|COMMON_BYTES)_/, `${f.code}: ${f.message}`);
      }
    }
  });
});
