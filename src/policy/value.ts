/**
 * Rego values (OPA's ast.Value): null, boolean, number, string, array, object and set. Objects
 * and sets may hold any value as a key, so both keep a Map from a primitive lookup key to the
 * entry. Ordering follows OPA's canonical order: null < boolean < number < string < array <
 * object < set (OPA ast/compare.go), which also orders set members in JSON output.
 */

/** Any Rego value. JSON primitives are used as is; composites are arrays, RObject and RSet. */
export type Value = null | boolean | number | string | Value[] | RObject | RSet;

/** Lookup key of a value: primitives are their own key; composites their canonical text. */
export type Key = null | boolean | number | string;

const COMPOSITE_MARK = '\u0000';

/** Returns the Map key used for `v` in objects and sets. */
export function keyOf(v: Value): Key {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return v === 0 ? 0 : v;
  return COMPOSITE_MARK + canonical(v);
}

/** A Rego object: insertion-ordered entries keyed by keyOf(key). */
export class RObject {
  private _map: Map<Key, [Value, Value]> | undefined;
  /** JSON object not yet converted (fromJSON converts lazily, one level at a time). */
  private _raw: Readonly<Record<string, unknown>> | undefined;
  /**
   * Composite members of _raw already converted by get(), as key, value, key, value… (a short
   * list: policies read few members), reused when the map is built.
   */
  private _conv: (string | Value)[] | undefined;
  /** _raw holds plain JSON only (checkJSON passed, no Rego values inside): convert unchecked. */
  private _plain: boolean;

  constructor(entries?: Iterable<[Value, Value]>) {
    this._map = undefined;
    this._raw = undefined;
    this._conv = undefined;
    this._plain = false;
    if (entries !== undefined) {
      this._map = new Map();
      for (const [k, v] of entries) this._map.set(keyOf(k), [k, v]);
    }
  }

  /** Wraps a JSON object; its members are converted on first access. */
  static lazy(raw: Readonly<Record<string, unknown>>): RObject {
    const o = new RObject();
    o._raw = raw;
    return o;
  }

  /** Wraps a JSON object that checkJSON found plain (see fromCheckedJSON). */
  static lazyPlain(raw: Readonly<Record<string, unknown>>): RObject {
    const o = new RObject();
    o._raw = raw;
    o._plain = true;
    return o;
  }

  /** Converts a member of _raw. */
  private member(v: unknown): Value {
    return this._plain ? fromCheckedJSON(v) : fromJSON(v);
  }

  /** Entries by lookup key. */
  get map(): Map<Key, [Value, Value]> {
    if (this._map === undefined) {
      const m = new Map<Key, [Value, Value]>();
      const raw = this._raw;
      this._raw = undefined;
      if (raw !== undefined) {
        const conv = this._conv;
        for (const k of Object.keys(raw)) {
          const v = raw[k];
          if (v === undefined) continue;
          let done: Value | undefined;
          if (conv !== undefined && v !== null && typeof v === 'object') {
            for (let i = 0; i < conv.length; i += 2) {
              if (conv[i] === k) {
                done = conv[i + 1];
                break;
              }
            }
          }
          m.set(k, [k, done ?? this.member(v)]);
        }
        this._conv = undefined;
      }
      this._map = m;
    }
    return this._map;
  }

  /** Value at key, or undefined. */
  get(k: Value): Value | undefined {
    const raw = this._raw;
    if (raw !== undefined && typeof k === 'string') {
      // Unconverted JSON: convert just the member asked for (policies read few members).
      const v = raw[k];
      if (v === undefined || !Object.prototype.hasOwnProperty.call(raw, k)) return undefined;
      // Primitives need no conversion memo; composites are converted once and kept.
      if (typeof v === 'string' || typeof v === 'boolean') return v;
      if (typeof v !== 'object' || v === null) return this.member(v);
      const conv = this._conv;
      if (conv === undefined) {
        const out = this.member(v);
        this._conv = [k, out];
        return out;
      }
      for (let i = 0; i < conv.length; i += 2) if (conv[i] === k) return conv[i + 1] as Value;
      // Many members read: convert the rest too and look up by map from now on.
      if (conv.length >= 32) return this.map.get(k)?.[1];
      const out = this.member(v);
      conv.push(k, out);
      return out;
    }
    const e = this.map.get(keyOf(k));
    return e === undefined ? undefined : e[1];
  }

  /** Sets a key (mutates: only used while building). */
  set(k: Value, v: Value): void {
    this.map.set(keyOf(k), [k, v]);
  }

  /** True when the key is present. */
  has(k: Value): boolean {
    return this.map.has(keyOf(k));
  }

  /** Number of entries. */
  get size(): number {
    return this.map.size;
  }

  /** Entries as [key, value] pairs. */
  entries(): IterableIterator<[Value, Value]> {
    return this.map.values();
  }

  /** Keys. */
  keys(): Value[] {
    return [...this.map.values()].map((e) => e[0]);
  }
}

/** A Rego set, keyed by keyOf(member). */
export class RSet {
  /** Members by lookup key. */
  readonly map: Map<Key, Value>;

  constructor(items?: Iterable<Value>) {
    this.map = new Map();
    if (items !== undefined) for (const v of items) this.map.set(keyOf(v), v);
  }

  /** Adds a member (mutates: only used while building). */
  add(v: Value): void {
    this.map.set(keyOf(v), v);
  }

  /** True when `v` is a member. */
  has(v: Value): boolean {
    return this.map.has(keyOf(v));
  }

  /** Number of members. */
  get size(): number {
    return this.map.size;
  }

  /** Members in insertion order. */
  values(): IterableIterator<Value> {
    return this.map.values();
  }

  /** Members in canonical order. */
  sorted(): Value[] {
    return [...this.map.values()].sort(compare);
  }
}

/** Rego type name of a value (as `type_name` returns it). */
export function typeName(v: Value): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return 'boolean';
    case 'number':
      return 'number';
    case 'string':
      return 'string';
    default:
      if (Array.isArray(v)) return 'array';
      return v instanceof RSet ? 'set' : 'object';
  }
}

function rank(v: Value): number {
  if (v === null) return 0;
  switch (typeof v) {
    case 'boolean':
      return 1;
    case 'number':
      return 2;
    case 'string':
      return 3;
    default:
      if (Array.isArray(v)) return 4;
      return v instanceof RSet ? 6 : 5;
  }
}

/** Total order over values, OPA's canonical order. */
export function compare(a: Value, b: Value): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 0:
      return 0;
    case 1:
      return a === b ? 0 : a === false ? -1 : 1;
    case 2:
      return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    case 3:
      return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
    case 4: {
      const x = a as Value[];
      const y = b as Value[];
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const c = compare(x[i], y[i]);
        if (c !== 0) return c;
      }
      return x.length - y.length;
    }
    case 5: {
      const x = [...(a as RObject).entries()].sort((p, q) => compare(p[0], q[0]));
      const y = [...(b as RObject).entries()].sort((p, q) => compare(p[0], q[0]));
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const c = compare(x[i][0], y[i][0]);
        if (c !== 0) return c;
        const d = compare(x[i][1], y[i][1]);
        if (d !== 0) return d;
      }
      return x.length - y.length;
    }
    default: {
      const x = (a as RSet).sorted();
      const y = (b as RSet).sorted();
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const c = compare(x[i], y[i]);
        if (c !== 0) return c;
      }
      return x.length - y.length;
    }
  }
}

/** Structural equality (numbers by value, sets and objects regardless of order). */
export function equal(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return typeof a === 'number' && typeof b === 'number' ? a === b : false;
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!equal(a[i], b[i])) return false;
    return true;
  }
  if (a instanceof RSet) {
    if (!(b instanceof RSet) || a.size !== b.size) return false;
    for (const k of a.map.keys()) if (!b.map.has(k)) return false;
    return true;
  }
  if (!(b instanceof RObject) || a.size !== b.size) return false;
  for (const [k, e] of a.map) {
    const o = b.map.get(k);
    if (o === undefined || !equal(e[1], o[1])) return false;
  }
  return true;
}

/** Canonical text of a value (sorted sets and object keys), used for keys and hashing. */
export function canonical(v: Value): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v instanceof RSet) return `set(${v.sorted().map(canonical).join(',')})`;
  const es = [...v.entries()].sort((p, q) => compare(p[0], q[0]));
  return `{${es.map(([k, x]) => `${canonical(k)}:${canonical(x)}`).join(',')}}`;
}

/** Converts parsed JSON (or YAML) data into a Rego value. Throws TypeError on non-JSON values. */
export function fromJSON(x: unknown): Value {
  if (x === null || typeof x === 'string' || typeof x === 'boolean') return x;
  if (typeof x === 'number') {
    if (!Number.isFinite(x)) throw new TypeError('non-finite number');
    return x;
  }
  if (typeof x === 'bigint') return Number(x);
  if (Array.isArray(x)) return x.map(fromJSON);
  if (typeof x === 'object') {
    // Plain objects first (the common case); Rego values are returned as they are.
    const proto = Object.getPrototypeOf(x) as unknown;
    if (proto === Object.prototype || proto === null) return RObject.lazy(x as Record<string, unknown>);
    if (x instanceof RObject || x instanceof RSet) return x;
    throw new TypeError(`not a JSON object: ${String(x)}`);
  }
  throw new TypeError(`not a JSON value: ${typeof x}`);
}

/**
 * Converts JSON data that checkJSON found plain: no checks (they were made), objects wrapped
 * lazily with the same guarantee for their members.
 */
export function fromCheckedJSON(x: unknown): Value {
  if (typeof x !== 'object' || x === null) return typeof x === 'bigint' ? Number(x) : (x as Value);
  if (!Array.isArray(x)) return RObject.lazyPlain(x as Record<string, unknown>);
  const out = new Array<Value>(x.length);
  for (let i = 0; i < x.length; i++) {
    const v: unknown = x[i];
    // Strings and objects (event logs, digests) without a further call.
    out[i] =
      typeof v === 'object' && v !== null && !Array.isArray(v)
        ? RObject.lazyPlain(v as Record<string, unknown>)
        : typeof v === 'string'
          ? v
          : fromCheckedJSON(v);
  }
  return out;
}

/** Throws TypeError unless `x` is JSON data (walks without allocating; used before lazy conversion). */
export function assertJSON(x: unknown): void {
  walkJSON(x, 0);
}

/**
 * assertJSON, telling whether the data is plain JSON: true when it holds no Rego values
 * (RObject, RSet, accepted as they are), so fromCheckedJSON may convert it.
 */
export function checkJSON(x: unknown): boolean {
  return !walkJSON(x, 0);
}

/** Checks JSON data; returns true when it holds Rego values. */
function walkJSON(x: unknown, depth: number): boolean {
  if (typeof x === 'object' && x !== null) return walkComposite(x, depth);
  checkPrimitive(x);
  return false;
}

/** Checks a JSON primitive other than a string or boolean (numbers must be finite). */
function checkPrimitive(x: unknown): void {
  const t = typeof x;
  if (t === 'string' || x === null || t === 'boolean' || t === 'bigint') return;
  if (t === 'number') {
    if (!Number.isFinite(x)) throw new TypeError('non-finite number');
    return;
  }
  throw new TypeError(`not a JSON value: ${t}`);
}

/** Checks an array or object: composite members recursively, primitive members inline. */
function walkComposite(x: object, depth: number): boolean {
  if (depth > 10_000) throw new TypeError('JSON nesting too deep');
  let values = false;
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) {
      const v: unknown = x[i];
      if (typeof v === 'object') {
        if (v !== null && walkComposite(v, depth + 1)) values = true;
      } else if (typeof v !== 'string' && typeof v !== 'boolean') checkPrimitive(v);
    }
    return values;
  }
  // Plain objects first (the common case); Rego values are accepted as they are.
  const proto = Object.getPrototypeOf(x) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    if (x instanceof RObject || x instanceof RSet) return true;
    throw new TypeError(`not a JSON object: ${String(x)}`);
  }
  // for-in (V8's enum cache, no key array) and primitive members checked inline.
  for (const k in x) {
    const v = (x as Record<string, unknown>)[k];
    if (typeof v === 'object') {
      if (v !== null && walkComposite(v, depth + 1)) values = true;
    } else if (typeof v !== 'string' && typeof v !== 'boolean' && v !== undefined) checkPrimitive(v);
  }
  return values;
}

/**
 * Converts a Rego value to JSON data: sets become arrays in canonical order, non-string object
 * keys become their JSON text (OPA's rule for JSON output).
 */
export function toJSON(v: Value): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(toJSON);
  if (v instanceof RSet) return v.sorted().map(toJSON);
  const out: Record<string, unknown> = {};
  for (const [k, x] of v.entries()) {
    const name = typeof k === 'string' ? k : JSON.stringify(toJSON(k));
    Object.defineProperty(out, name, {
      value: toJSON(x),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** Renders a value as Rego-ish text for messages (sets as {…}). */
export function show(v: Value): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  if (v instanceof RSet) return v.size === 0 ? 'set()' : `{${v.sorted().map(show).join(', ')}}`;
  return `{${[...v.entries()].map(([k, x]) => `${show(k)}: ${show(x)}`).join(', ')}}`;
}
