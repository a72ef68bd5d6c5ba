/**
 * RCAR sessions (kbs-protocol.md §3.1, §3.7): created by /auth with a random id (UUID v4
 * "simple" form) and a 32-byte nonce, moved to "attested" by one /attest. Nonces are single-use:
 * the first /attest consumes the challenge whatever its outcome (a failed attempt deletes the
 * session), so a captured Attestation can never be replayed. Expired sessions are removed on
 * lookup and by a sweep.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from '../common/clock.js';
import { CocoonError } from '../common/errors.js';
import type { KbsRequest } from '../kbs-protocol/index.js';

/** Default session lifetime (Trustee attestation_service.timeout = 5 min, §3.1). */
export const DEFAULT_SESSION_LIFETIME_MS = 5 * 60 * 1000;
/** Default cap on live sessions (Trustee has none; an unauthenticated /auth flood must not exhaust memory). */
export const DEFAULT_MAX_SESSIONS = 100_000;
/** Nonce size in bytes (§3.1 step 2). */
export const NONCE_BYTES = 32;

/** One session. */
export interface Session {
  readonly id: string;
  readonly request: KbsRequest;
  readonly nonce: string;
  readonly expiresAt: number;
  state: 'authed' | 'attesting' | 'attested';
  token?: string;
}

/** Options of SessionStore. */
export interface SessionStoreOptions {
  readonly clock: Clock;
  /** Lifetime in ms; default DEFAULT_SESSION_LIFETIME_MS. */
  readonly lifetimeMs?: number;
  /** Cap; default DEFAULT_MAX_SESSIONS. */
  readonly maxSessions?: number;
}

/** In-memory session table. */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly clock: Clock;
  private readonly lifetimeMs: number;
  private readonly maxSessions: number;

  constructor(opts: SessionStoreOptions) {
    this.clock = opts.clock;
    this.lifetimeMs = opts.lifetimeMs ?? DEFAULT_SESSION_LIFETIME_MS;
    this.maxSessions = opts.maxSessions ?? DEFAULT_MAX_SESSIONS;
  }

  /** Number of live (not yet swept) sessions. */
  get size(): number {
    return this.sessions.size;
  }

  /** Creates an authed session with a fresh nonce (standard base64, 44 chars). */
  create(request: KbsRequest): Session {
    if (this.sessions.size >= this.maxSessions) {
      this.sweep();
      if (this.sessions.size >= this.maxSessions) {
        throw new CocoonError('ERR_KBS_SESSIONS_EXHAUSTED', `session table full (${this.maxSessions})`);
      }
    }
    const s: Session = {
      id: randomUUID().replace(/-/g, ''),
      request,
      nonce: randomBytes(NONCE_BYTES).toString('base64'),
      expiresAt: this.clock.now().getTime() + this.lifetimeMs,
      state: 'authed',
    };
    this.sessions.set(s.id, s);
    return s;
  }

  /** Looks a session up by cookie value; typed errors for missing, unknown and expired. */
  get(id: string | undefined): Session {
    if (id === undefined || id === '')
      throw new CocoonError('ERR_KBS_SESSION_MISSING', 'no kbs-session-id cookie');
    const s = this.sessions.get(id);
    if (s === undefined) throw new CocoonError('ERR_KBS_SESSION_UNKNOWN', 'unknown kbs-session-id');
    if (this.clock.now().getTime() >= s.expiresAt) {
      this.sessions.delete(id);
      throw new CocoonError('ERR_KBS_SESSION_EXPIRED', 'session expired');
    }
    return s;
  }

  /** Looks up an attested, unexpired session; undefined otherwise (GET falls back to Bearer, §4.2). */
  attested(id: string | undefined): Session | undefined {
    if (id === undefined) return undefined;
    try {
      const s = this.get(id);
      return s.state === 'attested' ? s : undefined;
    } catch {
      return undefined;
    }
  }

  /** Consumes the challenge of an authed session: any second use is a replay. */
  beginAttest(s: Session): void {
    if (s.state !== 'authed')
      throw new CocoonError('ERR_KBS_NONCE_REPLAY', 'the session challenge was already used');
    s.state = 'attesting';
  }

  /** Marks a session attested with its token. */
  completeAttest(s: Session, token: string): void {
    s.state = 'attested';
    s.token = token;
  }

  /** Removes a session (failed attestation). */
  delete(id: string): void {
    this.sessions.delete(id);
  }

  /** Removes every expired session. */
  sweep(): number {
    const now = this.clock.now().getTime();
    let n = 0;
    for (const [id, s] of this.sessions) {
      if (now >= s.expiresAt) {
        this.sessions.delete(id);
        n++;
      }
    }
    return n;
  }
}

/** Reads one cookie's value from a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    if (part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}
