/**
 * The `time.*` built-ins and `test.sleep` (OPA docs, "Time":
 * https://www.openpolicyagent.org/docs/policy-reference/#time). OPA implements them on Go's
 * time package, so names, semantics and error texts follow Go's time docs:
 *
 * - Instants are nanoseconds since the Unix epoch in Go's int64 range; a result outside it is
 *   "time outside of valid range", an operand that is not an exact int64 is "timestamp too big".
 *   Rego numbers are doubles here, so the arithmetic is done in bigint on the double's exact
 *   value, and an operand above 2^63 - 1 that rounds to exactly 2^63 is read as 2^63 - 1 (it is
 *   what the literal 9223372036854775807 becomes).
 * - Time zones ("[ns, tz]" / "[ns, tz, layout]" operands) are IANA names resolved with the ICU
 *   data built into Node (Intl.DateTimeFormat with `timeZone`): no tz database files, no I/O,
 *   and the same answer on every machine running one Node build. "" and "UTC" are UTC. "Local"
 *   (Go's time.Local, the machine's zone) is also UTC: policies are pure and must give the same
 *   decision on every machine, so the host's zone is never consulted.
 * - Layouts are Go reference-time layouts ("Mon Jan 2 15:04:05 MST 2006"), plus the constant
 *   names OPA maps to Go's predefined layouts ("RFC3339", "RFC822Z", ...).
 * - "now" is BuiltinContext.nowNs, read once per evaluation from the injected clock.
 */
import type { Value } from './value.js';
import { def, fail, int, str, typeErr } from './builtins-core.js';

// ----- instants and civil dates ---------------------------------------------------------------

const NS = 1_000_000_000n;
const MIN_NS = -(1n << 63n);
const MAX_NS = (1n << 63n) - 1n;
const DAY = 86400;

/** An instant as whole seconds (floor) plus nanoseconds 0..999999999; both exact in a double. */
interface Instant {
  readonly sec: number;
  readonly nsec: number;
}

function instantOf(ns: bigint): Instant {
  let sec = ns / NS;
  let nsec = ns % NS;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += NS;
  }
  return { sec: Number(sec), nsec: Number(nsec) };
}

/** Nanoseconds of an instant as a Rego number, or OPA's range error (Go's int64 UnixNano). */
function nsValue(sec: number, nsec: number): number {
  if (!Number.isFinite(sec)) fail('time outside of valid range');
  const ns = BigInt(sec) * NS + BigInt(nsec);
  if (ns < MIN_NS || ns > MAX_NS) fail('time outside of valid range');
  return Number(ns);
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function daysIn(month: number, year: number): number {
  if (month === 2) return isLeap(year) ? 29 : 28;
  return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

/**
 * Days since 1970-01-01 of a proleptic Gregorian date; `month` may be outside 1..12 and `day`
 * outside the month, and both carry over the way Go's time.Date normalizes them.
 */
function daysFromCivil(year: number, month: number, day: number): number {
  const y0 = year + Math.floor((month - 1) / 12);
  const m0 = (((month - 1) % 12) + 12) % 12; // 0 = January
  // Count from March so that the leap day is the last day of the counted year.
  const y = m0 < 2 ? y0 - 1 : y0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (m0 + 10) % 12; // 0 = March
  const doy = Math.floor((153 * mp + 2) / 5);
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468 + (day - 1);
}

/** The civil date of a day count since 1970-01-01 (inverse of daysFromCivil). */
function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, day];
}

// ----- time zones -------------------------------------------------------------------------------

/** A location: Go's *time.Location, answered by ICU. */
interface Zone {
  /** Go's Location.String(). */
  readonly name: string;
  /** Seconds east of UTC in effect at `sec` (Unix seconds). */
  offset(sec: number): number;
  /** The abbreviation Go's "MST" layout element prints at `sec`. */
  abbrev(sec: number): string;
}

const UTC: Zone = { name: 'UTC', offset: () => 0, abbrev: () => 'UTC' };

/** Intl accepts instants within ±8.64e15 ms; beyond that we never need an offset. */
const INTL_MAX_SEC = 8.64e12;

function icuOffset(f: Intl.DateTimeFormat, sec: number): number {
  if (Math.abs(sec) > INTL_MAX_SEC) return 0;
  let y = 0;
  let mo = 1;
  let d = 1;
  let h = 0;
  let mi = 0;
  let s = 0;
  let bc = false;
  for (const p of f.formatToParts(sec * 1000)) {
    if (p.type === 'year') y = Number(p.value);
    else if (p.type === 'month') mo = Number(p.value);
    else if (p.type === 'day') d = Number(p.value);
    else if (p.type === 'hour') h = Number(p.value);
    else if (p.type === 'minute') mi = Number(p.value);
    else if (p.type === 'second') s = Number(p.value);
    else if (p.type === 'era') bc = p.value.startsWith('B');
  }
  if (bc) y = 1 - y;
  const wall = daysFromCivil(y, mo, d) * DAY + h * 3600 + mi * 60 + s;
  return wall - sec;
}

/** ICU's short zone name at `sec`, from the first formatter that is not a "GMT+n" fallback. */
function icuAbbrev(fs: readonly Intl.DateTimeFormat[], sec: number, offset: number): string {
  for (const f of fs) {
    const name = f.formatToParts(sec * 1000).find((p) => p.type === 'timeZoneName')?.value ?? '';
    if (name !== '' && !/^(GMT|UTC)[+-−]/.test(name)) return name;
  }
  // tzdata's numeric abbreviations ("+0530", "-03") for zones without a letter one.
  const abs = Math.abs(offset);
  const hh = String(Math.floor(abs / 3600)).padStart(2, '0');
  const mm = Math.floor((abs % 3600) / 60);
  return `${offset < 0 ? '-' : '+'}${hh}${mm === 0 ? '' : String(mm).padStart(2, '0')}`;
}

const zones = new Map<string, Zone>();
let canonicalLower: Map<string, string> | undefined;

/** Go's time.LoadLocation on ICU's zone data; throws Go's "unknown time zone NAME". */
function loadZone(name: string): Zone {
  if (name === '' || name === 'UTC' || name === 'Local') return UTC;
  const hit = zones.get(name);
  if (hit !== undefined) return hit;
  let f: Intl.DateTimeFormat;
  try {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    return fail(`unknown time zone ${name}`);
  }
  // ICU matches zone IDs case-insensitively; Go opens zoneinfo files by exact name.
  canonicalLower ??= new Map(Intl.supportedValuesOf('timeZone').map((z) => [z.toLowerCase(), z]));
  const canon = canonicalLower.get(name.toLowerCase());
  const resolved = f.resolvedOptions().timeZone;
  if (
    (canon !== undefined && canon !== name) ||
    (canon === undefined && resolved.toLowerCase() === name.toLowerCase() && resolved !== name)
  )
    fail(`unknown time zone ${name}`);
  let names: Intl.DateTimeFormat[] | undefined;
  const zone: Zone = {
    name,
    offset: (sec) => icuOffset(f, sec),
    abbrev: (sec) => {
      // English locales whose ICU names match tzdata's letter abbreviations (EST, CET, AEST,
      // IST, SAST, NST); a zone none of them names gets tzdata's numeric form.
      names ??= ['en-US', 'en-GB', 'en-CA', 'en-AU', 'en-IN', 'en-ZA'].map(
        (l) => new Intl.DateTimeFormat(l, { timeZone: name, timeZoneName: 'short' }),
      );
      return icuAbbrev(names, sec, icuOffset(f, sec));
    },
  };
  if (zones.size < 1024) zones.set(name, zone);
  return zone;
}

/**
 * Unix seconds of a wall-clock time (seconds as if UTC) in `zone`, resolved as Go's time.Date
 * does: guess the offset in effect at the wall time read as UTC, then take the offset in effect
 * at the instant that guess gives. So in New York 02:30 on a spring-forward day is read with
 * EDT (01:30 EST), and 01:30 on a fall-back day is the first (EDT) one; in Berlin 02:30 on a
 * fall-back day is the second (CET) one.
 */
function fromWall(wall: number, zone: Zone): number {
  return wall - zone.offset(wall - zone.offset(wall));
}

/** A broken-down time: Go's Time as Date(), Clock(), Weekday(), YearDay() and Zone() see it. */
interface Civil {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly min: number;
  readonly sec: number;
  readonly nsec: number;
  /** 0 = Sunday. */
  readonly wday: number;
  /** 1..366. */
  readonly yday: number;
  /** Seconds east of UTC. */
  readonly offset: number;
  readonly zone: Zone;
  readonly unix: number;
}

function civil(t: Instant, zone: Zone): Civil {
  const offset = zone.offset(t.sec);
  const local = t.sec + offset;
  const days = Math.floor(local / DAY);
  const sod = local - days * DAY;
  const [year, month, day] = civilFromDays(days);
  return {
    year,
    month,
    day,
    hour: Math.floor(sod / 3600),
    min: Math.floor((sod % 3600) / 60),
    sec: sod % 60,
    nsec: t.nsec,
    wday: (((days + 4) % 7) + 7) % 7,
    yday: days - daysFromCivil(year, 1, 1) + 1,
    offset,
    zone,
    unix: t.sec,
  };
}

// ----- operands ---------------------------------------------------------------------------------

/** Go's predefined layouts under the names OPA accepts for time.format and time.parse_ns. */
const NAMED_LAYOUTS: Readonly<Record<string, string>> = {
  ANSIC: 'Mon Jan _2 15:04:05 2006',
  UnixDate: 'Mon Jan _2 15:04:05 MST 2006',
  RubyDate: 'Mon Jan 02 15:04:05 -0700 2006',
  RFC822: '02 Jan 06 15:04 MST',
  RFC822Z: '02 Jan 06 15:04 -0700',
  RFC850: 'Monday, 02-Jan-06 15:04:05 MST',
  RFC1123: 'Mon, 02 Jan 2006 15:04:05 MST',
  RFC1123Z: 'Mon, 02 Jan 2006 15:04:05 -0700',
  RFC3339: '2006-01-02T15:04:05Z07:00',
  RFC3339Nano: '2006-01-02T15:04:05.999999999Z07:00',
  Kitchen: '3:04PM',
  Stamp: 'Jan _2 15:04:05',
  StampMilli: 'Jan _2 15:04:05.000',
  StampMicro: 'Jan _2 15:04:05.000000',
  StampNano: 'Jan _2 15:04:05.000000000',
};

function layoutOf(s: string): string {
  return Object.hasOwn(NAMED_LAYOUTS, s) ? NAMED_LAYOUTS[s] : s;
}

/** A number operand as an exact int64 (OPA's "timestamp too big" otherwise). */
function exactNs(v: number): bigint {
  if (!Number.isInteger(v)) fail('timestamp too big');
  const b = BigInt(v);
  if (b === MAX_NS + 1n) return MAX_NS;
  if (b < MIN_NS || b > MAX_NS) fail('timestamp too big');
  return b;
}

/**
 * OPA's tzTime: `ns`, `[ns]`, `[ns, tz]` or `[ns, tz, layout]`, in the zone (default UTC) and
 * with the layout (default RFC3339Nano). As in OPA, type errors always name operand 1.
 */
function tzTime(v: Value | undefined): { t: Civil; layout: string } {
  let ns: Value | undefined = v;
  let zone = UTC;
  let layout = NAMED_LAYOUTS.RFC3339Nano;
  if (Array.isArray(v)) {
    if (v.length === 0) typeErr(0, 'either number (ns) or [number (ns), string (tz)]', v);
    ns = v[0];
    if (typeof ns !== 'number') typeErr(0, 'number', ns);
    if (v.length > 1) {
      if (typeof v[1] !== 'string') typeErr(0, 'string', v[1]);
      zone = loadZone(v[1]);
    }
    if (v.length > 2) {
      if (typeof v[2] !== 'string') typeErr(0, 'string', v[2]);
      layout = layoutOf(v[2]);
    }
  } else if (typeof v !== 'number') typeErr(0, 'one of {number, array}', v ?? null);
  return { t: civil(instantOf(exactNs(ns as number)), zone), layout };
}

// ----- layouts ----------------------------------------------------------------------------------

/**
 * Layout elements (Go's std chunks). `frac0`/`frac9` are ".000"/".999" (or with a comma):
 * fixed-width, and trailing-zeros-trimmed fractional seconds.
 */
// prettier-ignore
type Std =
  | 'Jan' | 'January' | '1' | '01' | 'Mon' | 'Monday' | '2' | '_2' | '02' | '__2' | '002'
  | '15' | '3' | '03' | '4' | '04' | '5' | '05' | '06' | '2006' | 'PM' | 'pm' | 'MST'
  | 'Z0700' | 'Z070000' | 'Z07' | 'Z07:00' | 'Z07:00:00'
  | '-0700' | '-070000' | '-07' | '-07:00' | '-07:00:00' | 'frac0' | 'frac9';

interface Chunk {
  /** Literal text before the element. */
  readonly prefix: string;
  /** The element; undefined for the trailing literal. */
  readonly std: Std | undefined;
  /** The element's text in the layout. */
  readonly text: string;
  /** Digits of a fractional-second element. */
  readonly digits: number;
}

const ZONE_ELEMS: readonly Std[] = ['Z070000', 'Z07:00:00', 'Z0700', 'Z07:00', 'Z07'];
const NUM_ZONE_ELEMS: readonly Std[] = ['-070000', '-07:00:00', '-0700', '-07:00', '-07'];

function isDigitAt(s: string, i: number): boolean {
  return i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57;
}

function lowerAt(s: string, i: number): boolean {
  return i < s.length && s[i] >= 'a' && s[i] <= 'z';
}

/** The layout element starting at `i` (Go's nextStdChunk, one position at a time). */
function stdAt(l: string, i: number): { std: Std; len: number; digits: number } | undefined {
  const at = (s: string): boolean => l.startsWith(s, i);
  const one = (std: Std, len: number): { std: Std; len: number; digits: number } => ({ std, len, digits: 0 });
  switch (l[i]) {
    case 'J':
      if (at('January')) return one('January', 7);
      if (at('Jan') && !lowerAt(l, i + 3)) return one('Jan', 3);
      return undefined;
    case 'M':
      if (at('Monday')) return one('Monday', 6);
      if (at('Mon') && !lowerAt(l, i + 3)) return one('Mon', 3);
      if (at('MST')) return one('MST', 3);
      return undefined;
    case '0':
      if (i + 1 < l.length && l[i + 1] >= '1' && l[i + 1] <= '6') return one(`0${l[i + 1]}` as Std, 2);
      if (at('002')) return one('002', 3);
      return undefined;
    case '1':
      return at('15') ? one('15', 2) : one('1', 1);
    case '2':
      return at('2006') ? one('2006', 4) : one('2', 1);
    case '_':
      // "_2006" is a literal "_" followed by the year.
      if (at('_2') && !at('_2006')) return one('_2', 2);
      if (at('__2')) return one('__2', 3);
      return undefined;
    case '3':
    case '4':
    case '5':
      return one(l[i] as Std, 1);
    case 'P':
      return at('PM') ? one('PM', 2) : undefined;
    case 'p':
      return at('pm') ? one('pm', 2) : undefined;
    case '-':
      for (const z of NUM_ZONE_ELEMS) if (at(z)) return one(z, z.length);
      return undefined;
    case 'Z':
      for (const z of ZONE_ELEMS) if (at(z)) return one(z, z.length);
      return undefined;
    case '.':
    case ',': {
      const ch = l[i + 1];
      if (ch !== '0' && ch !== '9') return undefined;
      let j = i + 1;
      while (j < l.length && l[j] === ch) j++;
      // Only a run of one repeated digit that the layout does not continue with more digits.
      if (isDigitAt(l, j)) return undefined;
      return { std: ch === '0' ? 'frac0' : 'frac9', len: j - i, digits: j - i - 1 };
    }
    default:
      return undefined;
  }
}

function chunks(layout: string): Chunk[] {
  const out: Chunk[] = [];
  let start = 0;
  let i = 0;
  while (i < layout.length) {
    const s = stdAt(layout, i);
    if (s === undefined) {
      i++;
      continue;
    }
    out.push({
      prefix: layout.slice(start, i),
      std: s.std,
      text: layout.slice(i, i + s.len),
      digits: s.digits,
    });
    i += s.len;
    start = i;
  }
  out.push({ prefix: layout.slice(start), std: undefined, text: '', digits: 0 });
  return out;
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

function pad(n: number, width: number, fill = '0'): string {
  const s = String(Math.abs(n)).padStart(width, fill);
  return n < 0 ? `-${s}` : s;
}

/** Go's Time.Format. */
function format(t: Civil, layout: string): string {
  let out = '';
  for (const c of chunks(layout)) {
    out += c.prefix;
    switch (c.std) {
      case undefined:
        break;
      case 'Jan':
        out += MONTHS[t.month - 1].slice(0, 3);
        break;
      case 'January':
        out += MONTHS[t.month - 1];
        break;
      case '1':
        out += String(t.month);
        break;
      case '01':
        out += pad(t.month, 2);
        break;
      case 'Mon':
        out += DAYS[t.wday].slice(0, 3);
        break;
      case 'Monday':
        out += DAYS[t.wday];
        break;
      case '2':
        out += String(t.day);
        break;
      case '_2':
        out += pad(t.day, 2, ' ');
        break;
      case '02':
        out += pad(t.day, 2);
        break;
      case '__2':
        out += pad(t.yday, 3, ' ');
        break;
      case '002':
        out += pad(t.yday, 3);
        break;
      case '15':
        out += pad(t.hour, 2);
        break;
      case '3':
        out += String(t.hour % 12 === 0 ? 12 : t.hour % 12);
        break;
      case '03':
        out += pad(t.hour % 12 === 0 ? 12 : t.hour % 12, 2);
        break;
      case '4':
        out += String(t.min);
        break;
      case '04':
        out += pad(t.min, 2);
        break;
      case '5':
        out += String(t.sec);
        break;
      case '05':
        out += pad(t.sec, 2);
        break;
      case '06':
        out += pad(((t.year % 100) + 100) % 100, 2);
        break;
      case '2006':
        out += pad(t.year, 4);
        break;
      case 'PM':
        out += t.hour >= 12 ? 'PM' : 'AM';
        break;
      case 'pm':
        out += t.hour >= 12 ? 'pm' : 'am';
        break;
      case 'MST':
        out += t.zone === UTC ? 'UTC' : t.zone.abbrev(t.unix);
        break;
      case 'frac0':
      case 'frac9': {
        const digits = String(t.nsec).padStart(9, '0').slice(0, Math.min(c.digits, 9));
        if (c.std === 'frac0') out += c.text[0] + digits;
        else {
          const trimmed = digits.replace(/0+$/, '');
          if (trimmed !== '') out += c.text[0] + trimmed;
        }
        break;
      }
      default:
        out += formatOffset(c.std, t.offset);
    }
  }
  return out;
}

/** Zone elements that carry seconds ("-07:00:00"). */
const SECONDS_ZONE_ELEMS: readonly Std[] = ['Z070000', 'Z07:00:00', '-070000', '-07:00:00'];

/** The numeric zone elements; the "Z" forms print "Z" for UTC (Go's ISO 8601 special case). */
function formatOffset(std: Std, offset: number): string {
  if (offset === 0 && std[0] === 'Z') return 'Z';
  const colon = std.includes(':') ? ':' : '';
  // Minutes truncated toward zero, as Go's offset/60.
  const zone = Math.trunc(offset / 60);
  let out = (zone < 0 ? '-' : '+') + pad(Math.floor(Math.abs(zone) / 60), 2);
  if (std !== '-07' && std !== 'Z07') out += colon + pad(Math.abs(zone) % 60, 2);
  if (SECONDS_ZONE_ELEMS.includes(std)) out += colon + pad(Math.abs(offset) % 60, 2);
  return out;
}

// ----- parsing (Go's time.Parse) ----------------------------------------------------------------

function quote(s: string): string {
  return JSON.stringify(s);
}

class ParseFailure extends Error {}

/** Go's ParseError text. */
function parseError(layout: string, value: string, elemL: string, elemV: string, msg = ''): never {
  if (msg !== '') return fail(`parsing time ${quote(value)}${msg}`);
  return fail(
    `parsing time ${quote(value)} as ${quote(layout)}: cannot parse ${quote(elemV)} as ${quote(elemL)}`,
  );
}

/** Go's skip: the literal must match, a run of spaces matching a run of one or more spaces. */
function skip(value: string, prefix: string): string {
  let v = value;
  let p = prefix;
  while (p.length > 0) {
    if (p[0] === ' ') {
      if (v.length > 0 && v[0] !== ' ') throw new ParseFailure();
      p = p.replace(/^ +/, '');
      v = v.replace(/^ +/, '');
      continue;
    }
    if (v.length === 0 || v[0] !== p[0]) throw new ParseFailure();
    p = p.slice(1);
    v = v.slice(1);
  }
  return v;
}

/** One or two digits (exactly two when `fixed`). */
function getnum(v: string, fixed: boolean): [number, string] {
  if (!isDigitAt(v, 0)) throw new ParseFailure();
  if (!isDigitAt(v, 1)) {
    if (fixed) throw new ParseFailure();
    return [Number(v[0]), v.slice(1)];
  }
  return [Number(v.slice(0, 2)), v.slice(2)];
}

/** One to three digits (exactly three when `fixed`). */
function getnum3(v: string, fixed: boolean): [number, string] {
  let n = 0;
  while (n < 3 && isDigitAt(v, n)) n++;
  if (n === 0 || (fixed && n !== 3)) throw new ParseFailure();
  return [Number(v.slice(0, n)), v.slice(n)];
}

/** Case-insensitive prefix match against `names` (Go's lookup). */
function lookup(names: readonly string[], v: string): [number, string] {
  for (let i = 0; i < names.length; i++) {
    const n = names[i];
    if (v.length >= n.length && v.slice(0, n.length).toLowerCase() === n.toLowerCase())
      return [i, v.slice(n.length)];
  }
  throw new ParseFailure();
}

/** Fraction `v[0..n)` (a '.' or ',' and digits) as nanoseconds; only the first 9 digits count. */
function nanos(v: string, n: number): number {
  if (v[0] !== '.' && v[0] !== ',') throw new ParseFailure();
  const digits = v.slice(1, Math.min(n, 10));
  if (!/^\d+$/.test(digits)) throw new ParseFailure();
  return Number(digits.padEnd(9, '0'));
}

/** Length of a time zone abbreviation at the start of `v` (Go's parseTimeZone), or 0. */
function zoneAbbrevLen(v: string): number {
  if (v.length < 3) return 0;
  if (v.startsWith('ChST') || v.startsWith('MeST')) return 4;
  if (v.startsWith('GMT')) return 3 + signedOffsetLen(v.slice(3));
  if (v[0] === '+' || v[0] === '-') return signedOffsetLen(v);
  let upper = 0;
  while (upper < v.length && v[upper] >= 'A' && v[upper] <= 'Z') upper++;
  if (upper === 3) return 3;
  if (upper === 4 && (v[3] === 'T' || v.startsWith('WITA'))) return 4;
  if (upper === 5 && v[4] === 'T') return 5;
  return 0;
}

/** "+h" / "-hh" (hours 0..24) at the start of `v`: its length, else 0. */
function signedOffsetLen(v: string): number {
  const m = /^[+-](\d+)/.exec(v);
  if (m === null || Number(m[1]) > 24) return 0;
  return m[0].length;
}

/** Go's time.Parse(layout, value) in UTC (Parse's default location) → Unix ns as a Rego number. */
function parse(layout: string, value: string): number {
  let v = value;
  let year = 0;
  let month = -1;
  let day = -1;
  let yday = -1;
  let hour = 0;
  let min = 0;
  let sec = 0;
  let nsec = 0;
  let pm = false;
  let am = false;
  let zoneOffset: number | undefined;
  let zoneName: string | undefined;
  const cs = chunks(layout);
  for (let k = 0; k < cs.length; k++) {
    const c = cs[k];
    try {
      v = skip(v, c.prefix);
    } catch (e) {
      if (!(e instanceof ParseFailure)) throw e;
      parseError(layout, value, c.prefix, v);
    }
    if (c.std === undefined) {
      if (v.length > 0) parseError(layout, value, '', '', `: extra text: ${quote(v)}`);
      break;
    }
    const hold = v;
    let range = '';
    try {
      switch (c.std) {
        case '06': {
          if (!/^\d\d/.test(v)) throw new ParseFailure();
          year = Number(v.slice(0, 2));
          year += year >= 69 ? 1900 : 2000;
          v = v.slice(2);
          break;
        }
        case '2006':
          if (!/^\d{4}/.test(v)) throw new ParseFailure();
          year = Number(v.slice(0, 4));
          v = v.slice(4);
          break;
        case 'Jan':
          [month, v] = lookup(
            MONTHS.map((m) => m.slice(0, 3)),
            v,
          );
          month++;
          break;
        case 'January':
          [month, v] = lookup(MONTHS, v);
          month++;
          break;
        case '1':
        case '01':
          [month, v] = getnum(v, c.std === '01');
          if (month < 1 || month > 12) range = 'month';
          break;
        case 'Mon':
          v = lookup(
            DAYS.map((d) => d.slice(0, 3)),
            v,
          )[1];
          break;
        case 'Monday':
          v = lookup(DAYS, v)[1];
          break;
        case '2':
        case '_2':
        case '02':
          if (c.std === '_2' && v[0] === ' ') v = v.slice(1);
          [day, v] = getnum(v, c.std === '02');
          // Any one- or two-digit day; checked against the month once parsing is done.
          break;
        case '__2':
        case '002':
          if (c.std === '__2') v = v.replace(/^ {1,2}/, '');
          [yday, v] = getnum3(v, c.std === '002');
          if (yday < 1 || yday > 366) range = 'day-of-year';
          break;
        case '15':
          [hour, v] = getnum(v, false);
          if (hour > 23) range = 'hour';
          break;
        case '3':
        case '03':
          [hour, v] = getnum(v, c.std === '03');
          if (hour > 12) range = 'hour';
          break;
        case '4':
        case '04':
          [min, v] = getnum(v, c.std === '04');
          if (min > 59) range = 'minute';
          break;
        case '5':
        case '05': {
          [sec, v] = getnum(v, c.std === '05');
          if (sec > 59) {
            range = 'second';
            break;
          }
          // A fraction after the seconds is accepted even when the layout has none, unless
          // the next element is itself a fractional second.
          const next = cs[k + 1]?.std;
          if (
            v.length >= 2 &&
            (v[0] === '.' || v[0] === ',') &&
            isDigitAt(v, 1) &&
            next !== 'frac0' &&
            next !== 'frac9'
          ) {
            let n = 2;
            while (isDigitAt(v, n)) n++;
            nsec = nanos(v, n);
            v = v.slice(n);
          }
          break;
        }
        case 'PM':
        case 'pm': {
          const p = v.slice(0, 2);
          if (p.length < 2) throw new ParseFailure();
          if (p === (c.std === 'PM' ? 'PM' : 'pm')) pm = true;
          else if (p === (c.std === 'PM' ? 'AM' : 'am')) am = true;
          else throw new ParseFailure();
          v = v.slice(2);
          break;
        }
        case 'MST': {
          if (v.startsWith('UTC')) {
            zoneOffset = 0;
            v = v.slice(3);
            break;
          }
          const n = zoneAbbrevLen(v);
          if (n === 0) throw new ParseFailure();
          zoneName = v.slice(0, n);
          v = v.slice(n);
          break;
        }
        case 'frac0': {
          const n = 1 + c.digits;
          if (v.length < n) throw new ParseFailure();
          nsec = nanos(v, n);
          v = v.slice(n);
          break;
        }
        case 'frac9': {
          if (v.length < 2 || (v[0] !== '.' && v[0] !== ',') || !isDigitAt(v, 1)) break; // omitted
          let n = 1;
          while (isDigitAt(v, n)) n++;
          nsec = nanos(v, n);
          v = v.slice(n);
          break;
        }
        default: {
          if (c.std[0] === 'Z' && v[0] === 'Z') {
            zoneOffset = 0;
            v = v.slice(1);
            break;
          }
          const r = parseOffset(c.std, v);
          if (typeof r === 'string') range = r;
          else [zoneOffset, v] = r;
        }
      }
    } catch (e) {
      if (!(e instanceof ParseFailure)) throw e;
      parseError(layout, value, c.text, hold);
    }
    if (range !== '') parseError(layout, value, c.text, v, `: ${range} out of range`);
  }
  if (pm && hour < 12) hour += 12;
  else if (am && hour === 12) hour = 0;
  if (yday >= 0) {
    const max = isLeap(year) ? 366 : 365;
    if (yday > max) parseError(layout, value, '', v, ': day-of-year out of range');
    const [, m, d] = civilFromDays(daysFromCivil(year, 1, yday));
    if (month >= 0 && month !== m) parseError(layout, value, '', v, ': day-of-year does not match month');
    if (day >= 0 && day !== d) parseError(layout, value, '', v, ': day-of-year does not match day');
    month = m;
    day = d;
  } else {
    if (month < 0) month = 1;
    if (day < 0) day = 1;
  }
  if (day < 1 || day > daysIn(month, year)) parseError(layout, value, '', v, ': day out of range');
  let unix = daysFromCivil(year, month, day) * DAY + hour * 3600 + min * 60 + sec;
  if (zoneOffset !== undefined) unix -= zoneOffset;
  else if (zoneName !== undefined && zoneName.length > 3 && zoneName.startsWith('GMT')) {
    // An abbreviation unknown to the (UTC) local zone gets offset 0, except "GMT+h".
    unix -= Number(zoneName.slice(3)) * 3600;
  }
  return nsValue(unix, nsec);
}

/** A numeric zone offset element: [seconds east, rest] or the name of the field out of range. */
function parseOffset(std: Std, v: string): [number, string] | string {
  const colon = std.includes(':');
  const withSec = SECONDS_ZONE_ELEMS.includes(std);
  const short = std === '-07' || std === 'Z07';
  const len = short ? 3 : withSec ? (colon ? 9 : 7) : colon ? 6 : 5;
  if (v.length < len) throw new ParseFailure();
  if (colon && (v[3] !== ':' || (withSec && v[6] !== ':'))) throw new ParseFailure();
  const step = colon ? 3 : 2;
  const hh = v.slice(1, 3);
  const mm = short ? '00' : v.slice(1 + step, 3 + step);
  const ss = withSec ? v.slice(1 + 2 * step, 3 + 2 * step) : '00';
  if (!/^\d\d$/.test(hh) || !/^\d\d$/.test(mm) || !/^\d\d$/.test(ss)) throw new ParseFailure();
  // Go tests with > rather than >= because some offsets are 24 hours.
  if (Number(hh) > 24) return 'time zone offset hour';
  if (Number(mm) > 60) return 'time zone offset minute';
  if (Number(ss) > 60) return 'time zone offset second';
  const off = (Number(hh) * 60 + Number(mm)) * 60 + Number(ss);
  if (v[0] === '+') return [off, v.slice(len)];
  if (v[0] === '-') return [-off, v.slice(len)];
  throw new ParseFailure();
}

// ----- durations (Go's time.ParseDuration) -------------------------------------------------------

const UNITS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's time.ParseDuration: a signed sequence of decimal numbers, each with a unit. */
function parseDuration(s: string): number {
  let rest = s;
  let neg = false;
  if (rest[0] === '-' || rest[0] === '+') {
    neg = rest[0] === '-';
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') fail(`time: invalid duration ${quote(s)}`);
  let total = 0;
  while (rest !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(rest);
    if (m === null || (m[1] === '' && (m[2] ?? '') === '')) fail(`time: invalid duration ${quote(s)}`);
    rest = rest.slice(m[0].length);
    const unit = /^[^\d.]*/.exec(rest)?.[0] ?? '';
    if (unit === '') fail(`time: missing unit in duration ${quote(s)}`);
    if (!Object.hasOwn(UNITS, unit)) fail(`time: unknown unit ${quote(unit)} in duration ${quote(s)}`);
    rest = rest.slice(unit.length);
    total += Number(`${m[1] === '' ? '0' : m[1]}.${m[2] ?? ''}`) * UNITS[unit];
  }
  // Go's Duration is an int64 of nanoseconds.
  if (total > 2 ** 63) fail(`time: invalid duration ${quote(s)}`);
  return neg ? -total : total;
}

// ----- the built-ins ----------------------------------------------------------------------------

def('time.now_ns', 0, (_a, ctx) => ctx.nowNs);

// time.parse_ns(layout, value): Go's time.Parse; layout may be a name from NAMED_LAYOUTS.
def('time.parse_ns', 2, (a) => parse(layoutOf(str(a, 0)), str(a, 1)));

// time.parse_rfc3339_ns(value): Go's time.Parse(time.RFC3339, value).
def('time.parse_rfc3339_ns', 1, (a) => parse(NAMED_LAYOUTS.RFC3339, str(a, 0)));

def('time.parse_duration_ns', 1, (a) => parseDuration(str(a, 0)));

// time.format(x): x is ns or [ns, tz] or [ns, tz, layout]; default layout RFC3339Nano.
def('time.format', 1, (a) => {
  const { t, layout } = tzTime(a[0]);
  return format(t, layout);
});

def('time.date', 1, (a) => {
  const { t } = tzTime(a[0]);
  return [t.year, t.month, t.day];
});

def('time.clock', 1, (a) => {
  const { t } = tzTime(a[0]);
  return [t.hour, t.min, t.sec];
});

def('time.weekday', 1, (a) => DAYS[tzTime(a[0]).t.wday]);

// time.add_date(ns, years, months, days): Go's Time.AddDate in the operand's zone, which
// normalizes overflowing months and days ("Oct 31 + 1 month" is Dec 1).
def('time.add_date', 4, (a) => {
  const { t } = tzTime(a[0]);
  const years = int(a, 1);
  const months = int(a, 2);
  const days = int(a, 3);
  const d = daysFromCivil(t.year + years, t.month + months, t.day + days);
  const wall = d * DAY + t.hour * 3600 + t.min * 60 + t.sec;
  // Far outside int64 ns (±292 years): no zone lookup needed to know the answer.
  if (!Number.isFinite(wall) || Math.abs(wall) > 1e10) fail('time outside of valid range');
  return nsValue(fromWall(wall, t.zone), t.nsec);
});

// time.diff(a, b): [years, months, days, hours, minutes, seconds] between two instants, b seen
// in a's zone, the earlier one first; each field borrows from the next larger one when
// negative, a month borrowing the length of the earlier instant's month (OPA's algorithm).
def('time.diff', 2, (a) => {
  const x = tzTime(a[0]).t;
  const yy = tzTime(a[1]).t;
  const y = yy.zone === x.zone ? yy : civil({ sec: yy.unix, nsec: yy.nsec }, x.zone);
  const [t1, t2] = x.unix > y.unix || (x.unix === y.unix && x.nsec > y.nsec) ? [y, x] : [x, y];
  let years = t2.year - t1.year;
  let months = t2.month - t1.month;
  let days = t2.day - t1.day;
  let hours = t2.hour - t1.hour;
  let mins = t2.min - t1.min;
  let secs = t2.sec - t1.sec;
  if (secs < 0) {
    secs += 60;
    mins--;
  }
  if (mins < 0) {
    mins += 60;
    hours--;
  }
  if (hours < 0) {
    hours += 24;
    days--;
  }
  if (days < 0) {
    days += daysIn(t1.month, t1.year);
    months--;
  }
  if (months < 0) {
    months += 12;
    years--;
  }
  return [years, months, days, hours, mins, secs];
});

// test.sleep(duration): OPA sleeps for the duration (Go's time.Sleep). Evaluation here is
// synchronous, so really sleeping would block the event loop; time.now_ns is fixed for the
// whole evaluation, so nothing a policy can observe depends on the wait. We validate the
// duration (same errors as OPA) and return at once.
def('test.sleep', 1, (a) => {
  parseDuration(str(a, 0));
  return true;
});
