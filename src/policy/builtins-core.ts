/**
 * The shared core of the Rego built-ins: the registry, the evaluation context built-ins may read,
 * and the operand helpers whose messages follow OPA's topdown/builtins package ("operand 1 must
 * be string but got number"). builtins.ts and the builtins-*.ts families register through def().
 */
import { RObject, RSet, toJSON, typeName, type Value } from './value.js';

/** What built-ins may read from the evaluation. */
export interface BuiltinContext {
  /** time.now_ns for this evaluation (read once from the injected clock). */
  readonly nowNs: number;
  /** Per-evaluation memo (rand.intn, uuid.rfc4122 must be stable within one query). */
  readonly cache: Map<string, Value>;
}

/** A built-in failure. */
export class BuiltinError extends Error {
  /** type → eval_type_error; builtin → eval_builtin_error. */
  readonly kind: 'type' | 'builtin';
  /** Raised even outside strict mode. */
  readonly alwaysRaise: boolean;
  constructor(kind: 'type' | 'builtin', message: string, alwaysRaise = false) {
    super(message);
    this.kind = kind;
    this.alwaysRaise = alwaysRaise;
  }
}

/** A built-in definition. */
export interface BuiltinDef {
  readonly arity: number;
  readonly fn: (args: Value[], ctx: BuiltinContext) => Value | undefined;
}

/** All built-ins by name. */
export const BUILTINS = new Map<string, BuiltinDef>();

/** Registers a built-in; an OperandError it throws becomes a BuiltinError prefixed with `name`. */
export function def(
  name: string,
  arity: number,
  fn: (args: Value[], ctx: BuiltinContext) => Value | undefined,
): void {
  BUILTINS.set(name, {
    arity,
    fn: (args, ctx) => {
      try {
        return fn(args, ctx);
      } catch (e) {
        if (e instanceof OperandError) throw new BuiltinError(e.kind, `${name}: ${e.message}`);
        throw e;
      }
    },
  });
}

/** An operand failure inside a built-in, before def() names the built-in. */
export class OperandError extends Error {
  readonly kind: 'type' | 'builtin';
  constructor(kind: 'type' | 'builtin', msg: string) {
    super(msg);
    this.kind = kind;
  }
}

/** Throws OPA's "operand N must be T but got U" type error (0-based `i`). */
export function typeErr(i: number, want: string, got: Value): never {
  throw new OperandError('type', `operand ${i + 1} must be ${want} but got ${typeName(got)}`);
}

/** Throws an eval_builtin_error with OPA's message text. */
export function fail(msg: string): never {
  throw new OperandError('builtin', msg);
}

/** Operand `i` as a string, else a type error; likewise num, int, arr, obj, set and bool. */
export function str(a: Value[], i: number): string {
  const v = a[i];
  if (typeof v !== 'string') typeErr(i, 'string', v);
  return v;
}

export function num(a: Value[], i: number): number {
  const v = a[i];
  if (typeof v !== 'number') typeErr(i, 'number', v);
  return v;
}

export function int(a: Value[], i: number): number {
  const v = num(a, i);
  if (!Number.isInteger(v))
    throw new OperandError('type', `operand ${i + 1} must be integer number but got floating-point number`);
  return v;
}

export function arr(a: Value[], i: number): Value[] {
  const v = a[i];
  if (!Array.isArray(v)) typeErr(i, 'array', v);
  return v;
}

export function obj(a: Value[], i: number): RObject {
  const v = a[i];
  if (!(v instanceof RObject)) typeErr(i, 'object', v);
  return v;
}

export function set(a: Value[], i: number): RSet {
  const v = a[i];
  if (!(v instanceof RSet)) typeErr(i, 'set', v);
  return v;
}

export function bool(a: Value[], i: number): boolean {
  const v = a[i];
  if (typeof v !== 'boolean') typeErr(i, 'boolean', v);
  return v;
}

/**
 * Go-compatible compact JSON (object keys sorted, as encoding/json writes maps). Written out by
 * hand because JSON.stringify would put integer-like keys ("10", "9") first in numeric order.
 */
export function marshalJSON(v: Value): string {
  const write = (x: unknown): string => {
    if (Array.isArray(x)) return `[${x.map(write).join(',')}]`;
    if (x !== null && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      const members = Object.keys(o)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${write(o[k])}`);
      return `{${members.join(',')}}`;
    }
    return JSON.stringify(x);
  };
  return write(toJSON(v)).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
