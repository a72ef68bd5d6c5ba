/**
 * CC event log (evidence.md §1.11): Trustee's eventlog fixtures reproduced exactly (per-event
 * JSON), RTMR replay equal to Trustee's expected values and to the gotdx-ccel-cos113 quote,
 * the CCEL ACPI table, and malformed logs rejected with ERR_TDX_EVENTLOG_INVALID.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EV_NO_ACTION,
  eventToTrusteeJson,
  parseCcEventLog,
  replayRtmrs,
} from '../../../../src/attestation/eventlog/index.js';
import { parseQuote } from '../../../../src/attestation/tdx/abi.js';
import { throwsCode } from '../../../helpers/assert-code.js';
import { readShared } from '../../../helpers/shared.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const json = (bin: Buffer): unknown =>
  JSON.parse(
    JSON.stringify(
      parseCcEventLog(bin)
        .events.filter((e) => e.type !== EV_NO_ACTION)
        .map(eventToTrusteeJson),
    ),
  );

describe('Trustee eventlog fixtures (exact JSON)', () => {
  for (const name of ['trustee-ccel-ovmf', 'trustee-ccel-grub']) {
    test(`pass_${name}`, () => {
      const got = json(readShared('evidence', 'eventlog', `${name}.bin`));
      const want = JSON.parse(readShared('evidence', 'eventlog', `${name}.expected.json`).toString('utf8'));
      // Trustee serialises the whole CcEventLog: {"uefi_event_logs": [...]}.
      assert.deepStrictEqual({ uefi_event_logs: got }, want);
    });
  }
});

describe('RTMR replay (SHA-384 extend from zero)', () => {
  // Trustee deps/eventlog test_rtmr_integrity expectations (RTMR0..2; RTMR3 zero).
  const cases: [string, string[]][] = [
    [
      'eventlog/trustee-ccel-ovmf.bin',
      [
        '8566f998798db09443b244c62de9a3041fb02e2e6936c4396d784bba2e90177329ec5aba3bb484404f2ab9cc90abe193',
        '775b9f6bfe99f8a31396f0d0218e67ffa796d3b96ccf961cbb0deba48c79c00f082cda1a5567c1c16305f1fc210c13c6',
        '94eaf7a7bf398ed8d888c91057ae0261802e4f3df084213a76ca7f0b5055ac9d2241de43cd58d9e8b49c503bbf25f34a',
      ],
    ],
    [
      'eventlog/trustee-ccel-grub.bin',
      [
        'cec0a104f691f60da2387fea3c2de00c4ac035e2bb479ff02edcce69039d9e9907f0b3e55031da3dc7038f423adebd79',
        '6c289e0c62182d41ebe97bdbc9872d10998a08eaa86adcdc684001a363207ee72942c7522cdf00a4bbc3d784bed7b670',
        '08919d017ba0e52cd6d966351c7de16fe76c1d3d3d3da4554239e4c7d16cb8b82a94e7eaea3a0e6e18eb690b999fd31e',
      ],
    ],
    [
      'tdx/trustee/ccel-eventlog.bin',
      [
        '2dc712306a963eadb894ad47dbaa17df44814151555aee11cbb843becca88950ffd079664902e6f22c66f7c8213543f4',
        '0fa3be56af61208bbd179dc7b124988eb929319154663c539d6f46445ecac2fec287075047ff7bd1922829fec28cd3cf',
        '00'.repeat(48),
      ],
    ],
  ];
  for (const [file, want] of cases) {
    test(`pass_replay_${file}`, () => {
      const r = replayRtmrs(parseCcEventLog(readShared('evidence', ...file.split('/'))));
      assert.deepEqual(r.map(hex), [...want, '00'.repeat(48)]);
    });
  }

  test('pass_gotdx_ccel_cos113: replay reproduces the quote RTMR0..3 exactly', () => {
    const log = parseCcEventLog(readShared('evidence', 'tdx', 'gotdx-ccel-cos113', 'ccel-eventlog.bin'));
    const q = parseQuote(new Uint8Array(readShared('evidence', 'tdx', 'gotdx-ccel-cos113', 'quote-v4.bin')));
    assert.equal(log.events.length, 43);
    assert.deepEqual(replayRtmrs(log).map(hex), q.body.rtmrs.map(hex));
    assert.ok(hex(q.body.rtmrs[0]).startsWith('3fa2f61f'));
    assert.deepEqual([...log.algorithms.entries()], [[0x000c, 48]]);
  });

  test('pass_ccel_acpi_table: "CCEL", CC type 2, LAML 0x40000 = the log area size', () => {
    const t = readShared('evidence', 'tdx', 'gotdx-ccel-cos113', 'ccel-acpi-table.bin');
    assert.equal(t.subarray(0, 4).toString('latin1'), 'CCEL');
    assert.equal(t[36], 2);
    assert.equal(t.readBigUInt64LE(40), 0x40000n);
    assert.equal(readShared('evidence', 'tdx', 'gotdx-ccel-cos113', 'ccel-eventlog.bin').length, 0x40000);
  });
});

describe('malformed logs', () => {
  const good = new Uint8Array(readShared('evidence', 'eventlog', 'trustee-ccel-ovmf.bin'));
  const spec = Buffer.from(good).readUInt32LE(28);
  const first = 32 + spec;
  const put32 = (off: number, v: number): Uint8Array => {
    const c = good.slice();
    Buffer.from(c.buffer).writeUInt32LE(v >>> 0, off);
    return c;
  };
  const cases: [string, Uint8Array][] = [
    ['fail_empty', new Uint8Array(0)],
    ['fail_header_type', put32(4, 4)],
    ['fail_spec_size_huge', put32(28, 0x7fffffff)],
    [
      'fail_signature',
      (() => {
        const c = good.slice();
        c[32] = 0x41;
        return c;
      })(),
    ],
    ['fail_digest_count_huge', put32(first + 8, 1000)],
    ['fail_event_size_past_end', put32(first + 12 + 2 + 48, 0x7fffffff)],
    ['fail_truncated_event', good.slice(0, first + 20)],
  ];
  for (const [name, input] of cases) {
    test(name, () => {
      throwsCode(() => parseCcEventLog(input), 'ERR_TDX_EVENTLOG_INVALID');
    });
  }
});
