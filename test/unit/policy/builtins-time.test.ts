/**
 * Edge cases of the time.* built-ins and test.sleep that OPA's conformance cases do not cover:
 * DST transitions (America/New_York, Europe/Berlin), negative and sub-hour offsets, historic
 * offsets with seconds, Go layouts with fractional seconds, Go's parse error texts, invalid zone
 * names, "Local" and the injected clock. Expected values were worked out from Go's time package
 * documentation and the tz database transition dates.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy } from '../../../src/policy/engine.js';
import { toJSON } from '../../../src/policy/value.js';
import { fixedClock } from '../../../src/common/clock.js';
import { CocoonError } from '../../../src/common/errors.js';
import { throwsCode } from '../../helpers/assert-code.js';

const NOW = new Date('2026-01-02T03:04:05Z');

/** Evaluates `x := <expr>` strictly with the fixed clock; returns x as JSON, or 'undefined'. */
function evalExpr(expr: string): unknown {
  const r = compilePolicy('package t\n').query(`x := ${expr}`, { strict: true, clock: fixedClock(NOW) });
  if (r.rows.length === 0) return 'undefined';
  return toJSON(r.rows[0].get('x')!);
}

/** Asserts `expr` fails with `code` and a message containing `text`. */
function fails(expr: string, code: string, text: string): void {
  const e: CocoonError = throwsCode(() => evalExpr(expr), code);
  assert.ok(e.message.includes(text), `"${e.message}" lacks "${text}"`);
}

/** Nanoseconds of an RFC 3339 instant (whole seconds, so exact as a double). */
const ns = (iso: string): number => Date.parse(iso) * 1e6;

describe('time zones', () => {
  test('america_new_york_spring_forward', () => {
    const layout = '2006-01-02 15:04:05 MST -07:00';
    assert.equal(
      evalExpr(`time.format([${ns('2024-03-10T06:59:59Z')}, "America/New_York", "${layout}"])`),
      '2024-03-10 01:59:59 EST -05:00',
    );
    assert.equal(
      evalExpr(`time.format([${ns('2024-03-10T07:00:00Z')}, "America/New_York", "${layout}"])`),
      '2024-03-10 03:00:00 EDT -04:00',
    );
    assert.deepEqual(evalExpr(`time.clock([${ns('2024-03-10T07:00:00Z')}, "America/New_York"])`), [3, 0, 0]);
  });

  test('europe_berlin_spring_forward_and_fall_back', () => {
    assert.deepEqual(evalExpr(`time.clock([${ns('2024-03-31T00:59:59Z')}, "Europe/Berlin"])`), [1, 59, 59]);
    assert.deepEqual(evalExpr(`time.clock([${ns('2024-03-31T01:00:00Z')}, "Europe/Berlin"])`), [3, 0, 0]);
    // 02:30 happens twice on 2024-10-27: first in CEST, then in CET.
    const layout = '15:04 MST -0700';
    assert.equal(
      evalExpr(`time.format([${ns('2024-10-27T00:30:00Z')}, "Europe/Berlin", "${layout}"])`),
      '02:30 CEST +0200',
    );
    assert.equal(
      evalExpr(`time.format([${ns('2024-10-27T01:30:00Z')}, "Europe/Berlin", "${layout}"])`),
      '02:30 CET +0100',
    );
  });

  test('add_date_keeps_wall_clock_across_dst', () => {
    // 12:00 EST + 1 day = 12:00 EDT: 23 hours later.
    assert.equal(
      evalExpr(`time.add_date([${ns('2024-03-09T17:00:00Z')}, "America/New_York"], 0, 0, 1)`),
      ns('2024-03-10T16:00:00Z'),
    );
    // 02:30 on the spring-forward day does not exist; Go reads it with EDT, giving 01:30 EST.
    assert.equal(
      evalExpr(`time.add_date([${ns('2024-03-09T07:30:00Z')}, "America/New_York"], 0, 0, 1)`),
      ns('2024-03-10T06:30:00Z'),
    );
    // 02:30 on Berlin's fall-back day happens twice; Go's lookup lands on the CET one.
    assert.equal(
      evalExpr(`time.add_date([${ns('2024-10-26T00:30:00Z')}, "Europe/Berlin"], 0, 0, 1)`),
      ns('2024-10-27T01:30:00Z'),
    );
    // Without a zone: UTC, and month overflow carries over as in Go (Jan 31 + 1 month = Mar 2).
    assert.equal(
      evalExpr(`time.add_date(${ns('2024-01-31T00:00:00Z')}, 0, 1, 0)`),
      ns('2024-03-02T00:00:00Z'),
    );
  });

  test('negative_and_half_hour_offsets', () => {
    assert.equal(
      evalExpr(
        `time.format([${ns('2024-01-15T12:00:00Z')}, "America/St_Johns", "15:04 MST -0700 -07 Z07:00"])`,
      ),
      '08:30 NST -0330 -03 -03:30',
    );
    assert.equal(
      evalExpr('time.parse_ns("2006-01-02T15:04:05Z07:00", "2024-01-15T08:30:00-03:30")'),
      ns('2024-01-15T12:00:00Z'),
    );
    assert.deepEqual(
      evalExpr(`time.date([${ns('2024-01-01T03:00:00Z')}, "America/Los_Angeles"])`),
      [2023, 12, 31],
    );
    assert.equal(evalExpr(`time.weekday([${ns('2024-01-01T03:00:00Z')}, "America/Los_Angeles"])`), 'Sunday');
  });

  test('historic_offset_with_seconds', () => {
    // New York's local mean time before 1883 was -4:56:02.
    assert.equal(
      evalExpr(
        `time.format([${ns('1800-01-01T00:00:00Z')}, "America/New_York", "2006-01-02 15:04:05 -07:00:00"])`,
      ),
      '1799-12-31 19:03:58 -04:56:02',
    );
  });

  test('utc_empty_and_local_are_utc', () => {
    for (const tz of ['UTC', '', 'Local'])
      assert.deepEqual(evalExpr(`time.clock([${ns('2024-06-01T12:34:56Z')}, "${tz}"])`), [12, 34, 56]);
    assert.equal(evalExpr('time.format([0, "Local", "RFC850"])'), 'Thursday, 01-Jan-70 00:00:00 UTC');
  });

  test('fail_invalid_zone_names', () => {
    fails(
      'time.clock([0, "Mars/Olympus"])',
      'ERR_POLICY_BUILTIN',
      'time.clock: unknown time zone Mars/Olympus',
    );
    // Go opens zoneinfo files by exact name; ICU alone would accept any case.
    fails('time.date([0, "america/new_york"])', 'ERR_POLICY_BUILTIN', 'unknown time zone america/new_york');
    fails('time.format([0, "../etc/passwd"])', 'ERR_POLICY_BUILTIN', 'unknown time zone ../etc/passwd');
  });

  test('diff_converts_the_second_time_to_the_first_zone', () => {
    const t = ns('2024-03-10T06:00:00Z');
    assert.deepEqual(evalExpr(`time.diff([${t}, "Asia/Tokyo"], [${t + 3600e9}, "UTC"])`), [0, 0, 0, 1, 0, 0]);
    const p = (d: string): string => `time.parse_ns("2006-01-02", "${d}")`;
    // Jan 31 → Mar 1: one month, and a day borrowed from January's 31.
    assert.deepEqual(evalExpr(`time.diff(${p('2021-01-31')}, ${p('2021-03-01')})`), [0, 1, 1, 0, 0, 0]);
    assert.deepEqual(evalExpr(`time.diff(${p('2021-03-01')}, ${p('2021-01-31')})`), [0, 1, 1, 0, 0, 0]);
  });
});

describe('layouts', () => {
  // 1970-01-02T00:00:00.123456789Z: small enough to be exact as a double.
  const T = 86400123456789;

  test('fractional_seconds_format', () => {
    assert.equal(
      evalExpr(`time.format([${T}, "UTC", "15:04:05.000|.999|,000000|.000000000|.9"])`),
      '00:00:00.123|.123|,123456|.123456789|.1',
    );
    // .999 trims trailing zeros, and prints nothing (not even the dot) for a whole second.
    assert.equal(evalExpr(`time.format([86400120000000, "UTC", "05.999 05.000000"])`), '00.12 00.120000');
    assert.equal(evalExpr(`time.format([86400000000000, "UTC", "05.999|"])`), '00|');
    assert.equal(evalExpr(`time.format(${T})`), '1970-01-02T00:00:00.123456789Z');
  });

  test('fractional_seconds_parse', () => {
    const parse = (layout: string, value: string): unknown =>
      evalExpr(`time.parse_ns("${layout}", "${value}")`);
    // A fraction after the seconds is accepted even when the layout has none.
    assert.equal(parse('2006-01-02 15:04:05', '1970-01-02 00:00:00.123456789'), T);
    assert.equal(parse('2006-01-02 15:04:05,000', '1970-01-02 00:00:00,500'), 86400500000000);
    assert.equal(parse('2006-01-02 15:04:05.999', '1970-01-02 00:00:00'), 86400000000000);
    // Digits beyond nanoseconds are dropped.
    assert.equal(parse('RFC3339Nano', '1970-01-02T00:00:00.1234567891Z'), T);
    fails(
      'time.parse_ns("15:04:05.000", "00:00:01.5")',
      'ERR_POLICY_BUILTIN',
      'parsing time "00:00:01.5" as "15:04:05.000": cannot parse ".5" as ".000"',
    );
  });

  test('named_layouts_and_padding', () => {
    assert.equal(evalExpr(`time.format([${T}, "UTC", "ANSIC"])`), 'Fri Jan  2 00:00:00 1970');
    assert.equal(evalExpr(`time.format([${T}, "UTC", "Kitchen"])`), '12:00AM');
    assert.equal(
      evalExpr(`time.format([${T}, "UTC", "__2 002 _2 2 1 01 Monday January 06"])`),
      '  2 002  2 2 1 01 Friday January 70',
    );
    assert.equal(evalExpr('time.parse_ns("ANSIC", "Fri Jan  2 00:00:00 1970")'), 86400000000000);
    assert.equal(evalExpr('time.parse_ns("RFC822Z", "02 Jan 70 00:00 +0100")'), 82800000000000);
    assert.equal(evalExpr('time.parse_ns("3:04PM 2006-01-02", "12:30AM 1970-01-02")'), 88200000000000);
  });

  test('fail_parse_errors_use_go_texts', () => {
    const cases: [string, string, string][] = [
      ['2006-01-02', '2024/01/01', 'parsing time "2024/01/01" as "2006-01-02": cannot parse "/01/01" as "-"'],
      ['2006-01-02', '2024-13-01', 'parsing time "2024-13-01": month out of range'],
      ['2006-01-02', '2023-02-29', 'parsing time "2023-02-29": day out of range'],
      ['2006-01-02', '2024-01-01x', 'parsing time "2024-01-01x": extra text: "x"'],
      ['15:04', '25:00', 'parsing time "25:00": hour out of range'],
    ];
    for (const [layout, value, text] of cases)
      fails(`time.parse_ns("${layout}", "${value}")`, 'ERR_POLICY_BUILTIN', `time.parse_ns: ${text}`);
    fails(
      'time.parse_rfc3339_ns("2024-01-01 00:00:00Z")',
      'ERR_POLICY_BUILTIN',
      'cannot parse " 00:00:00Z" as "T"',
    );
  });

  test('fail_operands', () => {
    fails('time.date(1.5)', 'ERR_POLICY_BUILTIN', 'timestamp too big');
    fails(
      'time.date([])',
      'ERR_POLICY_TYPE',
      'operand 1 must be either number (ns) or [number (ns), string (tz)]',
    );
    fails('time.format("x")', 'ERR_POLICY_TYPE', 'operand 1 must be one of {number, array} but got string');
    fails('time.diff(0, [0, 5])', 'ERR_POLICY_TYPE', 'operand 1 must be string but got number');
    fails('time.parse_duration_ns("5")', 'ERR_POLICY_BUILTIN', 'time: missing unit in duration "5"');
    fails('time.parse_duration_ns("5y")', 'ERR_POLICY_BUILTIN', 'time: unknown unit "y" in duration "5y"');
  });
});

describe('clock and test.sleep', () => {
  test('now_ns_comes_from_the_injected_clock', () => {
    assert.equal(evalExpr('time.now_ns()'), NOW.getTime() * 1e6);
    assert.deepEqual(evalExpr('time.date(time.now_ns())'), [2026, 1, 2]);
  });

  test('sleep_does_not_block', () => {
    const started = performance.now();
    const r = compilePolicy(
      'package t\np if {\n  t0 := time.now_ns()\n  test.sleep("1h")\n  t0 == time.now_ns()\n}\n',
    ).query('x := data.t.p', { strict: true });
    assert.equal(toJSON(r.rows[0].get('x')!), true);
    assert.ok(performance.now() - started < 1000);
    fails('test.sleep("soon")', 'ERR_POLICY_BUILTIN', 'test.sleep: time: invalid duration "soon"');
  });
});
