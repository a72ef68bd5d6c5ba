/** Injected time source. Verifiers, sessions and caches take a Clock; tests pin it. */
export interface Clock {
  /** Current time. */
  now(): Date;
}

/** The real clock. */
export const systemClock: Clock = { now: () => new Date() };

/** A clock frozen at `at` (tests, `--at` on the CLI). */
export function fixedClock(at: Date | string | number): Clock {
  const t = new Date(at).getTime();
  if (Number.isNaN(t)) throw new TypeError(`fixedClock: invalid time ${String(at)}`);
  return { now: () => new Date(t) };
}
