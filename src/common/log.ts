/**
 * Structured logging: pino JSON on stderr. The level comes from the caller (flag) or
 * COCOON_LOG_LEVEL. Secrets and key material are redacted by path, so a handler that logs a
 * request object cannot leak a resource, a private JWK or a bearer token.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/** Object paths whose values are always replaced by "[REDACTED]". */
export const REDACT_PATHS: readonly string[] = [
  'secret',
  '*.secret',
  'resource',
  '*.resource',
  'privateKey',
  '*.privateKey',
  'private_key',
  '*.private_key',
  'ecdhPrivate',
  '*.ecdhPrivate',
  'd',
  '*.d',
  'jwk.d',
  '*.jwk.d',
  'password',
  '*.password',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'ciphertext',
  '*.ciphertext',
  'encrypted_key',
  '*.encrypted_key',
  'auth',
  '*.auth',
  'registryAuth',
  '*.registryAuth',
];

/** Valid level names. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Options for createLogger. */
export interface LoggerOptions {
  /** Level; default COCOON_LOG_LEVEL or "info". */
  readonly level?: string;
  /** Component name bound to every line. */
  readonly name?: string;
  /** Destination; default stderr (fd 2) so stdout stays free for command output. */
  readonly destination?: DestinationStream;
}

/** Creates a pino logger with Cocoon's redaction rules. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const envLevel = process.env['COCOON_LOG_LEVEL'];
  const level = opts.level ?? envLevel ?? 'info';
  const lvl = (LOG_LEVELS as readonly string[]).includes(level) ? level : 'info';
  const options = {
    level: lvl,
    ...(opts.name === undefined ? {} : { name: opts.name }),
    redact: { paths: [...REDACT_PATHS], censor: '[REDACTED]' },
    base: { pid: process.pid },
  };
  return pino(options, opts.destination ?? pino.destination(2));
}

/** A logger that discards everything (tests, library defaults). */
export const silentLogger: Logger = pino({ level: 'silent' });
