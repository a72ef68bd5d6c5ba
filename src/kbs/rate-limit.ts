/**
 * Per-client-address token bucket for /auth. Trustee has none (kbs-protocol.md §14 item 9,
 * trustee #1536): every /auth creates a session, so an unauthenticated flood fills memory.
 */
import type { Clock } from '../common/clock.js';

/** Rate-limit settings. */
export interface RateLimitOptions {
  /** Sustained requests per second per address. */
  readonly perSecond: number;
  /** Burst size. */
  readonly burst: number;
}

/** Default /auth limit per client address. */
export const DEFAULT_AUTH_RATE_LIMIT: RateLimitOptions = { perSecond: 50, burst: 100 };
/** Most addresses tracked; beyond it, idle buckets are dropped. */
export const RATE_LIMIT_MAX_CLIENTS = 65_536;

/** Token buckets keyed by address. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly opts: RateLimitOptions;
  private readonly clock: Clock;

  constructor(opts: RateLimitOptions, clock: Clock) {
    this.opts = opts;
    this.clock = clock;
  }

  /** Takes one token for `key`; false when the bucket is empty. */
  take(key: string): boolean {
    const now = this.clock.now().getTime();
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= RATE_LIMIT_MAX_CLIENTS) this.prune(now);
      b = { tokens: this.opts.burst, at: now };
      this.buckets.set(key, b);
    }
    // A clock that steps backwards must not drain the bucket.
    b.tokens = Math.min(this.opts.burst, b.tokens + (Math.max(0, now - b.at) / 1000) * this.opts.perSecond);
    b.at = Math.max(now, b.at);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private prune(now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + (Math.max(0, now - b.at) / 1000) * this.opts.perSecond >= this.opts.burst)
        this.buckets.delete(k);
    }
    // Still full: drop the oldest entries (Map keeps insertion order).
    for (const k of this.buckets.keys()) {
      if (this.buckets.size < RATE_LIMIT_MAX_CLIENTS) break;
      this.buckets.delete(k);
    }
  }
}
