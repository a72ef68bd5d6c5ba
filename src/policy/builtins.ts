/**
 * Rego built-in functions (OPA's topdown built-ins; names, arities and error texts follow OPA's
 * builtins.go so policies written for OPA or regorus run unchanged). Built-ins are pure: the only
 * ambient input, `time.now_ns`, comes from the evaluation's injected clock. Failures throw
 * BuiltinError: kind "type" is eval_type_error, kind "builtin" is eval_builtin_error.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { RObject, RSet, compare, equal, fromJSON, keyOf, toJSON, typeName, type Value } from './value.js';
import {
  BUILTINS,
  BuiltinError,
  OperandError,
  arr,
  bool,
  def,
  fail,
  int,
  marshalJSON,
  num,
  obj,
  set,
  str,
  typeErr,
} from './builtins-core.js';
// The JWT, network and time families live in their own files and register through def() on import.
import './builtins-jwt.js';
import './builtins-net.js';
import './builtins-time.js';

export {
  BUILTINS,
  BuiltinError,
  marshalJSON,
  type BuiltinContext,
  type BuiltinDef,
} from './builtins-core.js';

function elems(v: Value): Value[] {
  if (Array.isArray(v)) return v;
  if (v instanceof RSet) return [...v.values()];
  if (v instanceof RObject) return [...v.entries()].map((e) => e[1]);
  return [];
}

// ----- comparison and arithmetic ------------------------------------------------------------

def('equal', 2, (a) => equal(a[0], a[1]));
def('neq', 2, (a) => !equal(a[0], a[1]));
def('lt', 2, (a) => compare(a[0], a[1]) < 0);
def('lte', 2, (a) => compare(a[0], a[1]) <= 0);
def('gt', 2, (a) => compare(a[0], a[1]) > 0);
def('gte', 2, (a) => compare(a[0], a[1]) >= 0);

function checkNum(n: number): number {
  if (!Number.isFinite(n)) fail('number too big');
  return n;
}

def('plus', 2, (a) => checkNum(num(a, 0) + num(a, 1)));
def('mul', 2, (a) => checkNum(num(a, 0) * num(a, 1)));
def('minus', 2, (a) => {
  if (a[0] instanceof RSet) {
    const x = set(a, 0);
    const y = set(a, 1);
    return new RSet([...x.values()].filter((v) => !y.has(v)));
  }
  if (typeof a[0] !== 'number') typeErr(0, 'number', a[0]);
  if (typeof a[1] !== 'number') typeErr(1, 'number', a[1]);
  return checkNum((a[0] as number) - (a[1] as number));
});
def('div', 2, (a) => {
  const x = num(a, 0);
  const y = num(a, 1);
  if (y === 0) fail('divide by zero');
  return checkNum(x / y);
});
def('rem', 2, (a) => {
  const x = num(a, 0);
  const y = num(a, 1);
  if (!Number.isInteger(x) || !Number.isInteger(y)) fail('modulo on floating-point number');
  if (y === 0) fail('modulo by zero');
  const r = x % y;
  return r === 0 ? 0 : r;
});
def('abs', 1, (a) => Math.abs(num(a, 0)));
def('round', 1, (a) => {
  const x = num(a, 0);
  return x < 0 ? -Math.round(-x) : Math.round(x);
});
def('ceil', 1, (a) => Math.ceil(num(a, 0)));
def('floor', 1, (a) => Math.floor(num(a, 0)));
def('and', 2, (a) => {
  const x = set(a, 0);
  const y = set(a, 1);
  return new RSet([...x.values()].filter((v) => y.has(v)));
});
def('or', 2, (a) => {
  const x = set(a, 0);
  const y = set(a, 1);
  return new RSet([...x.values(), ...y.values()]);
});
def('numbers.range', 2, (a) => {
  const x = int(a, 0);
  const y = int(a, 1);
  const out: number[] = [];
  if (Math.abs(y - x) > 1e7) fail('range too large');
  if (x <= y) for (let i = x; i <= y; i++) out.push(i);
  else for (let i = x; i >= y; i--) out.push(i);
  return out;
});
def('numbers.range_step', 3, (a) => {
  const x = int(a, 0);
  const y = int(a, 1);
  const s = int(a, 2);
  if (s <= 0) fail('step must be a positive integer');
  const out: number[] = [];
  if (Math.abs(y - x) / s > 1e7) fail('range too large');
  if (x <= y) for (let i = x; i <= y; i += s) out.push(i);
  else for (let i = x; i >= y; i -= s) out.push(i);
  return out;
});
def('to_number', 1, (a) => {
  const v = a[0];
  if (v === null) return 0;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (/^[+-]?(inf|infinity|nan)$/i.test(v))
      throw new OperandError('type', `operand 1 must be a finite number but got ${JSON.stringify(v)}`);
    if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(v)) fail(`invalid syntax`);
    return Number(v);
  }
  return typeErr(0, 'one of {boolean, null, number, string}', v);
});
/** `x in c` (internal.member_2): never fails; compiled calls (closure.ts) use it directly. */
export function memberOf(x: Value, c: Value): boolean {
  if (Array.isArray(c)) {
    // A loop rather than some(): `x in arr` is frequent and needs no callback allocation.
    for (let i = 0; i < c.length; i++) if (equal(c[i], x)) return true;
    return false;
  }
  if (c instanceof RSet) return c.has(x);
  if (c instanceof RObject) return [...c.entries()].some((e) => equal(e[1], x));
  return false;
}
def('internal.member_2', 2, (a) => memberOf(a[0], a[1]));
def('internal.member_3', 3, (a) => {
  const c = a[2];
  if (Array.isArray(c)) return typeof a[0] === 'number' && equal(c[a[0]] ?? null, a[1]) && a[0] < c.length;
  if (c instanceof RObject) {
    const v = c.get(a[0]);
    return v !== undefined && equal(v, a[1]);
  }
  if (c instanceof RSet) return equal(a[0], a[1]) && c.has(a[0]);
  return false;
});

// ----- aggregates ---------------------------------------------------------------------------

def('count', 1, (a) => {
  const v = a[0];
  if (typeof v === 'string') return [...v].length;
  if (Array.isArray(v)) return v.length;
  if (v instanceof RSet || v instanceof RObject) return v.size;
  return typeErr(0, 'one of {array, object, set, string}', v);
});
function numsOf(a: Value[], i: number): number[] {
  const v = a[i];
  if (!Array.isArray(v) && !(v instanceof RSet)) typeErr(i, 'one of {array, set}', v);
  return elems(v).map((x) => {
    if (typeof x !== 'number') typeErr(i, 'one of {array, set} of numbers', v);
    return x;
  });
}
def('sum', 1, (a) => checkNum(numsOf(a, 0).reduce((x, y) => x + y, 0)));
def('product', 1, (a) => checkNum(numsOf(a, 0).reduce((x, y) => x * y, 1)));
function coll(a: Value[], i: number): Value[] {
  const v = a[i];
  if (!Array.isArray(v) && !(v instanceof RSet)) typeErr(i, 'one of {array, set}', v);
  return elems(v);
}
def('max', 1, (a) => {
  const xs = coll(a, 0);
  return xs.length === 0 ? undefined : xs.reduce((m, x) => (compare(x, m) > 0 ? x : m));
});
def('min', 1, (a) => {
  const xs = coll(a, 0);
  return xs.length === 0 ? undefined : xs.reduce((m, x) => (compare(x, m) < 0 ? x : m));
});
def('sort', 1, (a) => [...coll(a, 0)].sort(compare));

// ----- arrays, sets, objects ----------------------------------------------------------------

def('array.concat', 2, (a) => [...arr(a, 0), ...arr(a, 1)]);
def('array.flatten', 1, (a) => {
  const out: Value[] = [];
  const go = (xs: Value[]): void => {
    for (const x of xs) {
      if (Array.isArray(x)) go(x);
      else out.push(x);
    }
  };
  for (const x of arr(a, 0)) {
    if (Array.isArray(x)) out.push(...x);
    else out.push(x);
  }
  void go;
  return out;
});
def('array.reverse', 1, (a) => [...arr(a, 0)].reverse());
def('array.slice', 3, (a) => {
  const xs = arr(a, 0);
  let s = int(a, 1);
  let e = int(a, 2);
  s = Math.max(0, s);
  e = Math.min(xs.length, e);
  return s >= e ? [] : xs.slice(s, e);
});
def('intersection', 1, (a) => {
  const s = set(a, 0);
  let out: RSet | undefined;
  for (const x of s.values()) {
    if (!(x instanceof RSet)) typeErr(0, 'set of sets', s);
    out = out === undefined ? new RSet(x.values()) : new RSet([...out.values()].filter((v) => x.has(v)));
  }
  return out ?? new RSet();
});
def('union', 1, (a) => {
  const s = set(a, 0);
  const out = new RSet();
  for (const x of s.values()) {
    if (!(x instanceof RSet)) typeErr(0, 'set of sets', s);
    for (const v of x.values()) out.add(v);
  }
  return out;
});
def('object.get', 3, (a) => {
  const o = obj(a, 0);
  const k = a[1];
  if (Array.isArray(k)) {
    let cur: Value = o;
    for (const p of k) {
      let next: Value | undefined;
      if (cur instanceof RObject) next = cur.get(p);
      else if (Array.isArray(cur) && typeof p === 'number')
        next = Number.isInteger(p) && p >= 0 ? cur[p] : undefined;
      else if (cur instanceof RSet) next = cur.has(p) ? p : undefined;
      if (next === undefined) return a[2];
      cur = next;
    }
    return cur;
  }
  const v = o.get(k);
  return v === undefined ? a[2] : v;
});
def('object.keys', 1, (a) => new RSet(obj(a, 0).keys()));
def('object.remove', 2, (a) => {
  const o = obj(a, 0);
  const ks = a[1];
  if (!Array.isArray(ks) && !(ks instanceof RSet) && !(ks instanceof RObject))
    typeErr(1, 'one of {object, set, array}', ks);
  const drop = new RSet(ks instanceof RObject ? ks.keys() : elems(ks));
  return new RObject([...o.entries()].filter(([k]) => !drop.has(k)));
});
def('object.filter', 2, (a) => {
  const o = obj(a, 0);
  const ks = a[1];
  if (!Array.isArray(ks) && !(ks instanceof RSet) && !(ks instanceof RObject))
    typeErr(1, 'one of {object, set, array}', ks);
  const keep = new RSet(ks instanceof RObject ? ks.keys() : elems(ks));
  return new RObject([...o.entries()].filter(([k]) => keep.has(k)));
});
function unionObjects(x: RObject, y: RObject): RObject {
  const out = new RObject(x.entries());
  for (const [k, v] of y.entries()) {
    const p = out.get(k);
    out.set(k, p instanceof RObject && v instanceof RObject ? unionObjects(p, v) : v);
  }
  return out;
}
def('object.union', 2, (a) => unionObjects(obj(a, 0), obj(a, 1)));
def('object.union_n', 1, (a) => {
  const xs = arr(a, 0);
  let out = new RObject();
  for (const x of xs) {
    if (!(x instanceof RObject)) typeErr(0, 'array of objects', a[0]);
    out = unionObjects(out, x);
  }
  return out;
});
function isSubset(sup: Value, sub: Value): boolean {
  if (sup instanceof RObject && sub instanceof RObject) {
    for (const [k, v] of sub.entries()) {
      const s = sup.get(k);
      if (s === undefined) return false;
      if (!isSubset(s, v)) return false;
    }
    return true;
  }
  if (sup instanceof RSet && sub instanceof RSet) return [...sub.values()].every((v) => sup.has(v));
  if (Array.isArray(sup) && Array.isArray(sub)) {
    if (sub.length === 0) return true;
    for (let i = 0; i + sub.length <= sup.length; i++) {
      if (sub.every((v, j) => equal(sup[i + j], v))) return true;
    }
    return false;
  }
  if (Array.isArray(sup) && sub instanceof RSet)
    return [...sub.values()].every((v) => sup.some((x) => equal(x, v)));
  return equal(sup, sub);
}
def('object.subset', 2, (a) => {
  const x = a[0];
  const y = a[1];
  const ok = (v: Value): boolean => v instanceof RObject || v instanceof RSet || Array.isArray(v);
  if (!ok(x)) typeErr(0, 'one of {object, set, array}', x);
  if (!ok(y)) typeErr(1, 'one of {object, set, array}', y);
  if (x instanceof RObject !== y instanceof RObject && (x instanceof RObject || y instanceof RObject)) {
    fail('both arguments must be objects');
  }
  return isSubset(x, y);
});

function parsePaths(v: Value, i: number, name: string): Value[][] {
  if (!Array.isArray(v) && !(v instanceof RSet))
    throw new OperandError('type', `operand ${i + 1} must be one of {set, array} but got ${typeName(v)}`);
  void name;
  return elems(v).map((p) => {
    if (typeof p === 'string')
      return p
        .replace(/^\//, '')
        .split('/')
        .filter((s, _j, all) => !(s === '' && all.length === 1))
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (Array.isArray(p)) return p;
    throw new OperandError(
      'type',
      `operand ${i + 1} must be one of {set, array} containing string paths or array of path segments but got ${typeName(p)}`,
    );
  });
}

function pathKey(seg: Value, container: Value): Value {
  if (Array.isArray(container) && typeof seg === 'string' && /^\d+$/.test(seg)) return Number(seg);
  return seg;
}

def('json.filter', 2, (a) => {
  const o = obj(a, 0);
  const paths = parsePaths(a[1], 1, 'json.filter');
  const filterV = (v: Value, ps: Value[][]): Value => {
    if (ps.some((p) => p.length === 0)) return v;
    if (v instanceof RObject) {
      const out = new RObject();
      for (const [k, x] of v.entries()) {
        const sub = ps.filter((p) => equal(pathKey(p[0], v), k)).map((p) => p.slice(1));
        if (sub.length > 0) out.set(k, filterV(x, sub));
      }
      return out;
    }
    if (Array.isArray(v)) {
      const out: Value[] = [];
      v.forEach((x, idx) => {
        const sub = ps.filter((p) => equal(pathKey(p[0], v), idx)).map((p) => p.slice(1));
        if (sub.length > 0) out.push(filterV(x, sub));
      });
      return out;
    }
    if (v instanceof RSet) {
      const out = new RSet();
      for (const x of v.values()) {
        const sub = ps.filter((p) => equal(p[0], x)).map((p) => p.slice(1));
        if (sub.length > 0) out.add(filterV(x, sub));
      }
      return out;
    }
    return v;
  };
  return filterV(o, paths);
});
def('json.remove', 2, (a) => {
  const o = obj(a, 0);
  const paths = parsePaths(a[1], 1, 'json.remove');
  const removeV = (v: Value, ps: Value[][]): Value | undefined => {
    if (ps.some((p) => p.length === 0)) return undefined;
    if (v instanceof RObject) {
      const out = new RObject();
      for (const [k, x] of v.entries()) {
        const sub = ps.filter((p) => equal(pathKey(p[0], v), k)).map((p) => p.slice(1));
        if (sub.length === 0) out.set(k, x);
        else {
          const r = removeV(x, sub);
          if (r !== undefined) out.set(k, r);
        }
      }
      return out;
    }
    if (Array.isArray(v)) {
      const out: Value[] = [];
      v.forEach((x, idx) => {
        const sub = ps.filter((p) => equal(pathKey(p[0], v), idx)).map((p) => p.slice(1));
        if (sub.length === 0) out.push(x);
        else {
          const r = removeV(x, sub);
          if (r !== undefined) out.push(r);
        }
      });
      return out;
    }
    if (v instanceof RSet) {
      const out = new RSet();
      for (const x of v.values()) {
        const sub = ps.filter((p) => equal(p[0], x)).map((p) => p.slice(1));
        if (sub.length === 0) out.add(x);
        else {
          const r = removeV(x, sub);
          if (r !== undefined) out.add(r);
        }
      }
      return out;
    }
    return v;
  };
  return removeV(o, paths) ?? new RObject();
});

// ----- strings ------------------------------------------------------------------------------

def('concat', 2, (a) => {
  const d = str(a, 0);
  const v = a[1];
  if (!Array.isArray(v) && !(v instanceof RSet)) typeErr(1, 'one of {array, set}', v);
  const parts = elems(v).map((x) => {
    if (typeof x !== 'string') typeErr(1, 'one of {array, set} of strings', v);
    return x;
  });
  return parts.join(d);
});
def('contains', 2, (a) => str(a, 0).includes(str(a, 1)));
def('startswith', 2, (a) => str(a, 0).startsWith(str(a, 1)));
def('endswith', 2, (a) => str(a, 0).endsWith(str(a, 1)));
def('lower', 1, (a) => str(a, 0).toLowerCase());
def('upper', 1, (a) => str(a, 0).toUpperCase());
def('split', 2, (a) => {
  const s = str(a, 0);
  const d = str(a, 1);
  if (d === '') return [...s];
  return s.split(d);
});
def('replace', 3, (a) => {
  const s = str(a, 0);
  const o = str(a, 1);
  const n = str(a, 2);
  if (o === '') {
    const cs = [...s];
    return n + cs.join(n) + (cs.length > 0 ? n : '');
  }
  return s.split(o).join(n);
});
def('strings.replace_n', 2, (a) => {
  const pats = obj(a, 0);
  let s = str(a, 1);
  const pairs: [string, string][] = [];
  for (const [k, v] of pats.entries()) {
    if (typeof k !== 'string')
      throw new OperandError('type', 'operand 1 non-string key found in pattern object');
    if (typeof v !== 'string')
      throw new OperandError('type', 'operand 1 non-string value found in pattern object');
    pairs.push([k, v]);
  }
  pairs.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  // Go strings.NewReplacer: at each position the first matching old string (in argument order) wins.
  let out = '';
  let i = 0;
  outer: while (i < s.length) {
    for (const [o, n] of pairs) {
      if (o !== '' && s.startsWith(o, i)) {
        out += n;
        i += o.length;
        continue outer;
      }
    }
    out += s[i];
    i++;
  }
  s = out;
  return s;
});
function cutset(a: Value[], i: number): Set<string> {
  return new Set([...str(a, i)]);
}
function trimL(s: string, cs: Set<string>): string {
  const chars = [...s];
  let i = 0;
  while (i < chars.length && cs.has(chars[i])) i++;
  return chars.slice(i).join('');
}
function trimR(s: string, cs: Set<string>): string {
  const chars = [...s];
  let j = chars.length;
  while (j > 0 && cs.has(chars[j - 1])) j--;
  return chars.slice(0, j).join('');
}
def('trim', 2, (a) => trimR(trimL(str(a, 0), cutset(a, 1)), cutset(a, 1)));
def('trim_left', 2, (a) => trimL(str(a, 0), cutset(a, 1)));
def('trim_right', 2, (a) => trimR(str(a, 0), cutset(a, 1)));
def('trim_prefix', 2, (a) => {
  const s = str(a, 0);
  const p = str(a, 1);
  return s.startsWith(p) ? s.slice(p.length) : s;
});
def('trim_suffix', 2, (a) => {
  const s = str(a, 0);
  const p = str(a, 1);
  return p !== '' && s.endsWith(p) ? s.slice(0, s.length - p.length) : s;
});
def('trim_space', 1, (a) => str(a, 0).replace(/^[\s\u0085\u00a0]+|[\s\u0085\u00a0]+$/gu, ''));
def('indexof', 2, (a) => {
  const s = [...str(a, 0)];
  const sub = str(a, 1);
  const idx = str(a, 0).indexOf(sub);
  if (idx < 0) return -1;
  return [...str(a, 0).slice(0, idx)].length + s.length * 0;
});
def('indexof_n', 2, (a) => {
  const s = str(a, 0);
  const sub = str(a, 1);
  const out: number[] = [];
  if (sub === '') return out;
  let i = s.indexOf(sub);
  while (i >= 0) {
    out.push([...s.slice(0, i)].length);
    i = s.indexOf(sub, i + 1);
  }
  return out;
});
def('substring', 3, (a) => {
  const s = [...str(a, 0)];
  const start = int(a, 1);
  const len = int(a, 2);
  if (start < 0) fail('negative offset');
  if (start >= s.length) return '';
  return len < 0 ? s.slice(start).join('') : s.slice(start, start + len).join('');
});
// strings.split_n (OPA docs): the string is split at every delimiter (at every character for an
// empty one); n > 0 keeps the first n parts, n < 0 the last |n|, 0 none. Not Go's SplitN: no
// part carries the unsplit rest.
def('strings.split_n', 3, (a) => {
  const s = str(a, 0);
  const d = str(a, 1);
  const n = int(a, 2);
  if (n === 0) return [];
  const parts = d === '' ? [...s] : s.split(d);
  return n > 0 ? parts.slice(0, n) : parts.slice(Math.max(0, parts.length + n));
});
def('strings.reverse', 1, (a) => [...str(a, 0)].reverse().join(''));
def('strings.count', 2, (a) => {
  const s = str(a, 0);
  const sub = str(a, 1);
  if (sub === '') return [...s].length + 1;
  return s.split(sub).length - 1;
});
function strsOf(a: Value[], i: number): string[] {
  const v = a[i];
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) && !(v instanceof RSet)) typeErr(i, 'one of {string, set, array}', v);
  return elems(v).map((x) => {
    if (typeof x !== 'string') {
      throw new OperandError(
        'type',
        `operand ${i + 1} must be ${typeName(v)} of strings but got ${typeName(v)} containing ${typeName(x)}`,
      );
    }
    return x;
  });
}
def('strings.any_prefix_match', 2, (a) => {
  const ss = strsOf(a, 0);
  const ps = strsOf(a, 1);
  return ss.some((s) => ps.some((p) => s.startsWith(p)));
});
def('strings.any_suffix_match', 2, (a) => {
  const ss = strsOf(a, 0);
  const ps = strsOf(a, 1);
  return ss.some((s) => ps.some((p) => s.endsWith(p)));
});
def('format_int', 2, (a) => {
  const n = num(a, 0);
  const base = num(a, 1);
  // A base outside the enumerated set is a type error in OPA (the operand's declared type is the enum).
  if (![2, 8, 10, 16].includes(base))
    throw new OperandError('type', 'operand 2 must be one of {2, 8, 10, 16}');
  const t = Math.trunc(n);
  return (t < 0 ? '-' : '') + Math.abs(t).toString(base);
});

/** Formats a value the way Go's fmt %v prints OPA values. */
function fmtV(v: Value): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return fmtNum(v);
  if (v === null) return 'null';
  if (typeof v === 'boolean') return String(v);
  return regoText(v);
}

function fmtNum(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return n.toFixed(0);
  return String(n).replace('e+', 'e+');
}

/** Rego text of a value (strings quoted), as OPA prints composite values. */
export function regoText(v: Value): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return fmtNum(v);
  if (v === null || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(regoText).join(', ')}]`;
  if (v instanceof RSet) return v.size === 0 ? 'set()' : `{${v.sorted().map(regoText).join(', ')}}`;
  return `{${[...v.entries()].map(([k, x]) => `${regoText(k)}: ${regoText(x)}`).join(', ')}}`;
}

def('sprintf', 2, (a) => {
  const f = str(a, 0);
  const args = arr(a, 1);
  let ai = 0;
  return f.replace(
    /%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/g,
    (m, flags: string, width: string | undefined, prec: string | undefined, verb: string) => {
      if (verb === '%') return '%';
      if (ai >= args.length) return `%!${verb}(MISSING)`;
      const v = args[ai++];
      let s: string;
      switch (verb) {
        case 'v':
        case 's':
          s = fmtV(v);
          break;
        case 'd':
          s = typeof v === 'number' && Number.isInteger(v) ? v.toFixed(0) : `%!d(${typeName(v)}=${fmtV(v)})`;
          break;
        case 'f':
        case 'F':
          s = typeof v === 'number' ? v.toFixed(prec === undefined ? 6 : Number(prec)) : `%!f(${fmtV(v)})`;
          break;
        case 'e':
          s =
            typeof v === 'number'
              ? v.toExponential(prec === undefined ? 6 : Number(prec)).replace(/e([+-])(\d)$/, 'e$10$2')
              : m;
          break;
        case 'g':
          s = typeof v === 'number' ? String(v) : m;
          break;
        case 'x':
        case 'X':
          if (typeof v === 'number') s = Math.trunc(v).toString(16);
          else if (typeof v === 'string') s = Buffer.from(v, 'utf8').toString('hex');
          else s = m;
          if (verb === 'X') s = s.toUpperCase();
          break;
        case 'o':
          s = typeof v === 'number' ? Math.trunc(v).toString(8) : m;
          break;
        case 'b':
          s = typeof v === 'number' ? Math.trunc(v).toString(2) : m;
          break;
        case 'q':
          s = typeof v === 'string' ? JSON.stringify(v) : fmtV(v);
          break;
        case 't':
          s = typeof v === 'boolean' ? String(v) : m;
          break;
        default:
          s = `%!${verb}(${fmtV(v)})`;
      }
      if (flags.includes('+') && typeof v === 'number' && v >= 0 && 'dfeg'.includes(verb)) s = `+${s}`;
      if (width !== undefined && s.length < Number(width)) {
        const w = Number(width);
        if (flags.includes('-')) s = s.padEnd(w);
        else if (flags.includes('0') && typeof v === 'number') {
          const neg = s.startsWith('-');
          s = (neg ? '-' : '') + (neg ? s.slice(1) : s).padStart(w - (neg ? 1 : 0), '0');
        } else s = s.padStart(w);
      }
      return s;
    },
  );
});

// ----- regex (JS RegExp with RE2-style flags translated where cheap) --------------------------

const reCache = new Map<string, RegExp>();
function re(pattern: string, flags = ''): RegExp {
  const key = `${flags}/${pattern}`;
  let r = reCache.get(key);
  if (r === undefined) {
    let p = pattern;
    let f = flags + 'u';
    // RE2 inline flags at the start: (?i), (?s), (?m).
    const m = /^\(\?([imsU]+)\)/.exec(p);
    if (m !== null) {
      p = p.slice(m[0].length);
      for (const c of m[1]) if ('ims'.includes(c) && !f.includes(c)) f += c;
    }
    p = p
      .replace(/\\z/g, '$')
      .replace(/\(\?P</g, '(?<')
      .replace(/\[\[:alpha:\]\]/g, '[A-Za-z]')
      .replace(/\[\[:digit:\]\]/g, '[0-9]')
      .replace(/\[:alnum:\]/g, 'A-Za-z0-9');
    try {
      r = new RegExp(p, f);
    } catch (e) {
      throw new OperandError('builtin', `error parsing regexp: ${(e as Error).message}`);
    }
    if (reCache.size > 500) reCache.clear();
    reCache.set(key, r);
  }
  return r;
}

def('regex.match', 2, (a) => re(str(a, 0)).test(str(a, 1)));
def('re_match', 2, (a) => re(str(a, 0)).test(str(a, 1)));
def('regex.is_valid', 1, (a) => {
  if (typeof a[0] !== 'string') return false;
  try {
    re(a[0]);
    return true;
  } catch {
    return false;
  }
});
def('regex.split', 2, (a) => str(a, 1).split(re(str(a, 0))));
def('regex.find_n', 3, (a) => {
  const r = re(str(a, 0), 'g');
  const n = int(a, 2);
  const out: string[] = [];
  for (const m of str(a, 1).matchAll(r)) {
    if (n >= 0 && out.length >= n) break;
    out.push(m[0]);
  }
  return out;
});
def('regex.find_all_string_submatch_n', 3, (a) => {
  const r = re(str(a, 0), 'g');
  const n = int(a, 2);
  const out: Value[] = [];
  for (const m of str(a, 1).matchAll(r)) {
    if (n >= 0 && out.length >= n) break;
    out.push([...m].map((x) => x ?? ''));
  }
  return out;
});
def('regex.replace', 3, (a) => {
  const r = re(str(a, 1), 'g');
  const repl = str(a, 2).replace(/\$\{(\w+)\}/g, (_m, g: string) => (/^\d+$/.test(g) ? `$${g}` : `$<${g}>`));
  return str(a, 0).replace(r, repl);
});
def('regex.template_match', 4, (a) => {
  const tpl = str(a, 0);
  const s = str(a, 1);
  const open = str(a, 2);
  const close = str(a, 3);
  let pattern = '';
  let i = 0;
  while (i < tpl.length) {
    const o = tpl.indexOf(open, i);
    if (o < 0) {
      pattern += tpl.slice(i).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      break;
    }
    pattern += tpl.slice(i, o).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const c = tpl.indexOf(close, o + open.length);
    if (c < 0) fail('unbalanced braces');
    pattern += `(?:${tpl.slice(o + open.length, c)})`;
    i = c + close.length;
  }
  return new RegExp(`^${pattern}$`, 'u').test(s);
});
def('glob.quote_meta', 1, (a) => str(a, 0).replace(/[*?\\[\]{}]/g, '\\$&'));
def('glob.match', 3, (a) => {
  const pat = str(a, 0);
  const delimsV = a[1];
  const s = str(a, 2);
  let delims: string[] = ['.'];
  if (delimsV !== null) {
    delims = arr(a, 1).map((d) => {
      if (typeof d !== 'string') typeErr(1, 'array of strings', delimsV);
      return d;
    });
  }
  const notDelim =
    delims.length === 0 ? '[\\s\\S]' : `[^${delims.map((d) => d.replace(/[\]\\^-]/g, '\\$&')).join('')}]`;
  let out = '';
  for (let i = 0; i < pat.length; i++) {
    const c = pat[i];
    if (c === '*') {
      if (pat[i + 1] === '*') {
        out += '[\\s\\S]*';
        i++;
      } else out += `${notDelim}*`;
    } else if (c === '?') out += notDelim;
    else if (c === '\\') {
      i++;
      out += (pat[i] ?? '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    } else if (c === '[') {
      const j = pat.indexOf(']', i);
      if (j < 0) fail('unexpected end of input');
      let cls = pat.slice(i + 1, j);
      if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
      out += `[${cls}]`;
      i = j;
    } else if (c === '{') {
      const j = pat.indexOf('}', i);
      if (j < 0) fail('unexpected end of input');
      out += `(?:${pat
        .slice(i + 1, j)
        .split(',')
        .map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, `${notDelim}*`))
        .join('|')})`;
      i = j;
    } else out += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 'u').test(s);
});

// ----- types --------------------------------------------------------------------------------

/**
 * Built-ins of one argument that never fail, by name: compiled calls (closure.ts) apply them
 * directly, without an argument array. The BUILTINS entries wrap the same functions.
 */
export const PREDICATES: ReadonlyMap<string, (v: Value) => Value> = new Map<string, (v: Value) => Value>([
  ['is_string', (v) => typeof v === 'string'],
  ['is_number', (v) => typeof v === 'number'],
  ['is_boolean', (v) => typeof v === 'boolean'],
  ['is_array', (v) => Array.isArray(v)],
  ['is_set', (v) => v instanceof RSet],
  ['is_object', (v) => v instanceof RObject],
  ['is_null', (v) => v === null],
  ['type_name', (v) => typeName(v)],
]);
for (const [name, f] of PREDICATES) def(name, 1, (a) => f(a[0]));

// ----- encodings ----------------------------------------------------------------------------

function b64decode(s: string, url: boolean): string {
  let t = s;
  if (url) t = t.replace(/-/g, '+').replace(/_/g, '/');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t)) fail('illegal base64 data at input byte 0');
  if (!url && t.length % 4 !== 0) fail(`illegal base64 data at input byte ${t.length}`);
  return Buffer.from(t, 'base64').toString('utf8');
}
def('base64.encode', 1, (a) => Buffer.from(str(a, 0), 'utf8').toString('base64'));
def('base64.decode', 1, (a) => b64decode(str(a, 0), false));
def('base64.is_valid', 1, (a) => /^[A-Za-z0-9+/]*={0,2}$/.test(str(a, 0)) && str(a, 0).length % 4 === 0);
def('base64url.encode', 1, (a) =>
  Buffer.from(str(a, 0), 'utf8').toString('base64').replace(/\+/g, '-').replace(/\//g, '_'),
);
def('base64url.encode_no_pad', 1, (a) => Buffer.from(str(a, 0), 'utf8').toString('base64url'));
def('base64url.decode', 1, (a) => b64decode(str(a, 0), true));
def('hex.encode', 1, (a) => Buffer.from(str(a, 0), 'utf8').toString('hex'));
def('hex.decode', 1, (a) => {
  const s = str(a, 0);
  const bad = /[^0-9a-fA-F]/u.exec(s);
  if (bad !== null)
    fail(
      `encoding/hex: invalid byte: U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} ${JSON.stringify(bad[0]).replace(/^"|"$/g, "'")}`,
    );
  if (s.length % 2 !== 0) fail('encoding/hex: odd length hex string');
  return Buffer.from(s, 'hex').toString('utf8');
});

def('json.marshal', 1, (a) => marshalJSON(a[0]));
def('json.marshal_with_options', 2, (a) => {
  const o = obj(a, 1);
  for (const k of o.keys()) {
    if (k !== 'indent' && k !== 'prefix' && k !== 'pretty')
      throw new OperandError('type', `operand 2 object contained unknown key ${marshalJSON(k)}`);
  }
  const indent = o.get('indent');
  const prefix = o.get('prefix');
  const pretty = o.get('pretty');
  const js = JSON.parse(marshalJSON(a[0])) as unknown;
  if (pretty === false || (pretty === undefined && indent === undefined && prefix === undefined))
    return marshalJSON(a[0]);
  const ind = typeof indent === 'string' ? indent : '\t';
  const pre = typeof prefix === 'string' ? prefix : '';
  return JSON.stringify(js, null, ind)
    .split('\n')
    .map((l) => pre + l)
    .join('\n');
});
def('json.unmarshal', 1, (a) => {
  try {
    return fromJSON(JSON.parse(str(a, 0)) as unknown);
  } catch (e) {
    if (e instanceof OperandError) throw e;
    return fail(`${(e as Error).message}`);
  }
});
def('json.is_valid', 1, (a) => {
  if (typeof a[0] !== 'string') return false;
  try {
    JSON.parse(a[0]);
    return true;
  } catch {
    return false;
  }
});
/**
 * go-yaml's message shape, "yaml: line N: <what>", from an error of the yaml package. An unclosed
 * flow collection reads as go-yaml's "did not find expected ',' or ']'"; other texts keep the
 * yaml package's first line.
 */
function yamlMessage(e: unknown): string {
  if (!(e instanceof Error)) return `yaml: ${String(e)}`;
  const first = e.message.split('\n')[0] ?? '';
  const m = / at line (\d+), column \d+:?$/.exec(first);
  const what = m === null ? first : first.slice(0, m.index);
  const closer = /^Flow (sequence|map|mapping) must end with a ([\]}])/.exec(what);
  const text = closer === null ? what : `did not find expected ',' or '${closer[2]}'`;
  return m === null ? `yaml: ${text}` : `yaml: line ${m[1]}: ${text}`;
}
def('yaml.marshal', 1, (a) => stringifyYaml(toJSON(a[0])));
def('yaml.unmarshal', 1, (a) => {
  try {
    return fromJSON(parseYaml(str(a, 0)) as unknown);
  } catch (e) {
    if (e instanceof OperandError) throw e;
    return fail(yamlMessage(e));
  }
});
def('yaml.is_valid', 1, (a) => {
  if (typeof a[0] !== 'string') return false;
  try {
    parseYaml(a[0]);
    return true;
  } catch {
    return false;
  }
});
def('urlquery.encode', 1, (a) =>
  encodeURIComponent(str(a, 0))
    .replace(/%20/g, '+')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
);
def('urlquery.decode', 1, (a) => {
  try {
    return decodeURIComponent(str(a, 0).replace(/\+/g, ' '));
  } catch {
    return fail('invalid URL escape');
  }
});
def('urlquery.encode_object', 1, (a) => {
  const o = obj(a, 0);
  const enc = (s: string): string =>
    encodeURIComponent(s)
      .replace(/%20/g, '+')
      .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const parts: string[] = [];
  const keys = o.keys().sort(compare);
  for (const k of keys) {
    if (typeof k !== 'string') typeErr(0, 'object[string: any<string, array[string], set[string]>]', a[0]);
    const v = o.get(k)!;
    const vs = typeof v === 'string' ? [v] : elems(v);
    for (const x of vs) {
      if (typeof x !== 'string') typeErr(0, 'object[string: any<string, array[string], set[string]>]', a[0]);
      parts.push(`${enc(k)}=${enc(x)}`);
    }
  }
  return parts.join('&');
});
def('urlquery.decode_object', 1, (a) => {
  const out = new RObject();
  for (const part of str(a, 0).split(/[&;]/)) {
    if (part === '') continue;
    const [k, v = ''] = part.split('=', 2);
    const dk = decodeURIComponent(k.replace(/\+/g, ' '));
    const dv = decodeURIComponent(v.replace(/\+/g, ' '));
    const prev = out.get(dk);
    out.set(dk, Array.isArray(prev) ? [...prev, dv] : [dv]);
  }
  return out;
});

// ----- crypto hashes ------------------------------------------------------------------------

for (const [name, alg] of [
  ['crypto.md5', 'md5'],
  ['crypto.sha1', 'sha1'],
  ['crypto.sha256', 'sha256'],
  ['crypto.sha384', 'sha384'],
  ['crypto.sha512', 'sha512'],
] as const) {
  def(name, 1, (a) => createHash(alg).update(str(a, 0), 'utf8').digest('hex'));
}
for (const [name, alg] of [
  ['crypto.hmac.md5', 'md5'],
  ['crypto.hmac.sha1', 'sha1'],
  ['crypto.hmac.sha256', 'sha256'],
  ['crypto.hmac.sha512', 'sha512'],
] as const) {
  def(name, 2, (a) =>
    createHmac(alg, Buffer.from(str(a, 1), 'utf8'))
      .update(str(a, 0), 'utf8')
      .digest('hex'),
  );
}
def('crypto.hmac.equal', 2, (a) => {
  const x = Buffer.from(str(a, 0), 'utf8');
  const y = Buffer.from(str(a, 1), 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
});

// ----- semver -------------------------------------------------------------------------------

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

function semverCompare(x: string, y: string): number {
  const a = SEMVER.exec(x)!;
  const b = SEMVER.exec(y)!;
  for (let i = 1; i <= 3; i++) {
    const d = Number(a[i]) - Number(b[i]);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  const pa = a[4];
  const pb = b[4];
  if (pa === undefined && pb === undefined) return 0;
  if (pa === undefined) return 1;
  if (pb === undefined) return -1;
  const xs = pa.split('.');
  const ys = pb.split('.');
  for (let i = 0; i < Math.min(xs.length, ys.length); i++) {
    const p = xs[i];
    const q = ys[i];
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) {
      const d = Number(p) - Number(q);
      if (d !== 0) return d < 0 ? -1 : 1;
    } else if (pn) return -1;
    else if (qn) return 1;
    else if (p !== q) return p < q ? -1 : 1;
  }
  return xs.length === ys.length ? 0 : xs.length < ys.length ? -1 : 1;
}
def('semver.is_valid', 1, (a) => typeof a[0] === 'string' && SEMVER.test(a[0]));
def('semver.compare', 2, (a) => {
  const x = str(a, 0);
  const y = str(a, 1);
  if (!SEMVER.test(x)) fail(`operand 1: string ${JSON.stringify(x)} is not a valid SemVer`);
  if (!SEMVER.test(y)) fail(`operand 2: string ${JSON.stringify(y)} is not a valid SemVer`);
  return semverCompare(x, y);
});

// ----- bits ---------------------------------------------------------------------------------

def('bits.and', 2, (a) => Number(BigInt(int(a, 0)) & BigInt(int(a, 1))));
def('bits.or', 2, (a) => Number(BigInt(int(a, 0)) | BigInt(int(a, 1))));
def('bits.xor', 2, (a) => Number(BigInt(int(a, 0)) ^ BigInt(int(a, 1))));
def('bits.negate', 1, (a) => Number(~BigInt(int(a, 0))));
def('bits.lsh', 2, (a) => {
  if (int(a, 1) < 0)
    throw new OperandError('type', 'operand 2 must be an unsigned integer number but got a negative integer');
  return Number(BigInt(int(a, 0)) << BigInt(int(a, 1)));
});
def('bits.rsh', 2, (a) => {
  if (int(a, 1) < 0)
    throw new OperandError('type', 'operand 2 must be an unsigned integer number but got a negative integer');
  return Number(BigInt(int(a, 0)) >> BigInt(int(a, 1)));
});

// ----- units --------------------------------------------------------------------------------

function parseUnits(name: string, s: string, bytes: boolean): number {
  if (/\s/.test(s)) fail(`${name}: spaces not allowed in resource strings`);
  const t = s.replace(/"/g, '');
  const m = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(.*)$/.exec(t);
  if (m === null || m[1] === '') {
    if (/^[a-zA-Z]*$/.test(t))
      fail(bytes ? `${name}: no byte amount provided` : `${name}: no amount provided`);
    fail(
      bytes
        ? `${name}: could not parse byte amount to a number`
        : `${name}: could not parse amount to a number`,
    );
  }
  const u = m[2]!;
  // The amount is everything numeric before the unit: "0.0.0" leaves ".0", which is not a unit
  // but a malformed number (OPA: could not parse … to a number).
  if (/^[.\d]/.test(u)) {
    fail(
      bytes
        ? `${name}: could not parse byte amount to a number`
        : `${name}: could not parse amount to a number`,
    );
  }
  const n = Number(m[1]);
  if (!Number.isFinite(n)) fail(`${name}: exponent too large`);
  const dec: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15, e: 1e18 };
  const bin: Record<string, number> = {
    ki: 2 ** 10,
    mi: 2 ** 20,
    gi: 2 ** 30,
    ti: 2 ** 40,
    pi: 2 ** 50,
    ei: 2 ** 60,
  };
  if (bytes) {
    const lu = u.toLowerCase().replace(/b$/, '');
    if (lu in bin) return Math.trunc(n * bin[lu]);
    if (lu in dec) return Math.trunc(n * dec[lu]);
    fail(`${name}: byte unit ${u} not recognized`);
  }
  if (u === 'm') return n / 1000;
  if (u === 'M') return n * 1e6;
  const lu = u.toLowerCase();
  if (lu in bin) return n * bin[lu];
  if (lu in dec) return n * dec[lu];
  return fail(`${name}: unit ${u} not recognized`);
}
BUILTINS.set('units.parse', {
  arity: 1,
  fn: (a) => {
    if (typeof a[0] !== 'string')
      throw new BuiltinError('type', `units.parse: operand 1 must be string but got ${typeName(a[0])}`);
    try {
      return parseUnits('units.parse', a[0], false);
    } catch (e) {
      if (e instanceof OperandError) throw new BuiltinError(e.kind, e.message);
      throw e;
    }
  },
});
BUILTINS.set('units.parse_bytes', {
  arity: 1,
  fn: (a) => {
    if (typeof a[0] !== 'string')
      throw new BuiltinError('type', `units.parse_bytes: operand 1 must be string but got ${typeName(a[0])}`);
    try {
      return parseUnits('units.parse_bytes', a[0], true);
    } catch (e) {
      if (e instanceof OperandError) throw new BuiltinError(e.kind, e.message);
      throw e;
    }
  },
});

// ----- graphs, walk, misc -------------------------------------------------------------------

def('graph.reachable', 2, (a) => {
  const g = obj(a, 0);
  const start = a[1];
  if (!Array.isArray(start) && !(start instanceof RSet)) typeErr(1, 'one of {array, set}', start);
  const seen = new RSet();
  const queue = [...elems(start)];
  while (queue.length > 0) {
    const n = queue.shift()!;
    if (seen.has(n)) continue;
    const edges = g.get(n);
    if (edges === undefined) continue;
    seen.add(n);
    for (const e of elems(edges)) if (!seen.has(e)) queue.push(e);
  }
  return seen;
});
def('graph.reachable_paths', 2, (a) => {
  const g = obj(a, 0);
  const start = a[1];
  if (!Array.isArray(start) && !(start instanceof RSet)) typeErr(1, 'one of {array, set}', start);
  const out = new RSet();
  const dfs = (n: Value, path: Value[]): void => {
    const edges = g.get(n);
    if (edges === undefined) {
      if (path.length > 0) out.add(path);
      return;
    }
    const p2 = [...path, n];
    const next = elems(edges).filter((e) => !p2.some((x) => equal(x, e)));
    if (next.length === 0) {
      out.add(p2);
      return;
    }
    for (const e of next) dfs(e, p2);
  };
  for (const s of elems(start)) dfs(s, []);
  return out;
});
// Trustee's custom built-in (kbs-protocol.md §7.1); evaluations serve it from their reference
// values (EvalOptions.extraBuiltins). Without any, every reference value is absent (null).
def('query_reference_value', 1, () => null);
const HTTP_SEND_KEYS = new Set([
  'method',
  'url',
  'body',
  'enable_redirect',
  'force_json_decode',
  'force_yaml_decode',
  'headers',
  'raw_body',
  'tls_use_system_certs',
  'tls_ca_cert',
  'tls_ca_cert_file',
  'tls_ca_cert_env_variable',
  'tls_client_cert',
  'tls_client_cert_file',
  'tls_client_cert_env_variable',
  'tls_client_key',
  'tls_client_key_file',
  'tls_client_key_env_variable',
  'tls_insecure_skip_verify',
  'tls_server_name',
  'timeout',
  'cache',
  'force_cache',
  'force_cache_duration_seconds',
  'raise_error',
  'caching_mode',
  'max_retry_attempts',
  'cache_ignored_headers',
]);
// Policies are pure (no I/O): http.send validates its request like OPA, then fails. It exists so
// policies that mock it with \`with\` compile.
def('http.send', 1, (a) => {
  const req = obj(a, 0);
  const bad = req.keys().filter((k) => typeof k !== 'string' || !HTTP_SEND_KEYS.has(k));
  if (bad.length > 0)
    throw new OperandError(
      'type',
      `invalid request parameters(s): {${bad.map((k) => JSON.stringify(k)).join(', ')}}`,
    );
  const missing = ['method', 'url'].filter((k) => !req.has(k));
  if (missing.length > 0)
    throw new OperandError(
      'type',
      `missing required request parameters(s): {${missing.map((k) => JSON.stringify(k)).join(', ')}}`,
    );
  return fail('network access is disabled in Cocoon policies');
});
def('opa.runtime', 0, () => new RObject());
def('print', 1, () => true);
def('trace', 1, () => true);
def('rand.intn', 2, (a, ctx) => {
  const k = `rand.intn:${str(a, 0)}:${int(a, 1)}`;
  const c = ctx.cache.get(k);
  if (c !== undefined) return c;
  const n = int(a, 1);
  const v = n === 0 ? 0 : Math.floor(Math.random() * Math.abs(n));
  ctx.cache.set(k, v);
  return v;
});
def('uuid.rfc4122', 1, (a, ctx) => {
  const k = `uuid:${str(a, 0)}`;
  const c = ctx.cache.get(k);
  if (c !== undefined) return c;
  const v = globalThis.crypto.randomUUID();
  ctx.cache.set(k, v);
  return v;
});
/** Built-ins that are relations (yield several outputs); evaluated specially. */
export const RELATIONS = new Map<string, (args: Value[]) => Value[]>([
  [
    'walk',
    (a) => {
      const out: Value[] = [];
      const go = (v: Value, path: Value[]): void => {
        out.push([path, v]);
        if (Array.isArray(v)) v.forEach((x, i) => go(x, [...path, i]));
        else if (v instanceof RObject) for (const [k, x] of v.entries()) go(x, [...path, k]);
        else if (v instanceof RSet) for (const x of v.values()) go(x, [...path, x]);
      };
      go(a[0], []);
      return out;
    },
  ],
]);
BUILTINS.set('walk', { arity: 1, fn: () => undefined });

const NAMES = new Map<string, string>();

/**
 * One shared string per built-in name, so names that are compared often (compiled call sites
 * against a few extra built-ins) compare by identity.
 */
export function builtinName(name: string): string {
  const n = NAMES.get(name);
  if (n !== undefined) return n;
  // A property key is an internalized string: identical names are then the same string, and
  // different ones compare without reading their characters.
  const interned = Object.keys({ [name]: 0 })[0] ?? name;
  if (NAMES.size < 10_000) NAMES.set(name, interned);
  return interned;
}

/** The set of built-in names. */
export function builtinNames(): string[] {
  return [...BUILTINS.keys()].sort();
}

void keyOf;
void bool;
