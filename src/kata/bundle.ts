/**
 * OCI bundles for shims (cri-kata.md §4.2): `config.json`, `rootfs/`, and the `log` FIFO that
 * the caller must create (mode 0700) and hold open for reading before `start`, because the shim
 * daemon opens it write-only and blocks without a reader.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Logger } from '../common/log.js';
import { silentLogger } from '../common/log.js';
import { CocoonError } from '../common/errors.js';
import { LineSplitter, makeFifo, openFifoReader, type FifoReader } from './fifo.js';
import type { OciSpec } from './oci-spec.types.js';

/** Longest shim log line forwarded as one record; longer lines are split. */
export const SHIM_LOG_MAX_LINE = 16 * 1024;

/** Options of writeBundle. */
export interface WriteBundleOptions {
  /**
   * Existing host directory to use as the root filesystem: written as an absolute root.path.
   * Omitted ⇒ root.path stays as in the spec (default "rootfs", the bundle's own empty
   * directory, which is what guest pull wants: the image only exists in the guest).
   */
  readonly rootfs?: string;
  /** Where the shim's log lines go (one record per line, `shimLog` field); default silent. */
  readonly logger?: Logger;
  /** Create and hold the `log` FIFO; default true. */
  readonly logFifo?: boolean;
}

/** A written bundle and its open log reader. */
export interface Bundle {
  /** Absolute bundle directory. */
  readonly dir: string;
  /** `<dir>/config.json`. */
  readonly configPath: string;
  /** `<dir>/rootfs`. */
  readonly rootfsPath: string;
  /** `<dir>/log` (the FIFO). */
  readonly logPath: string;
  /** The spec as written. */
  readonly spec: OciSpec;
  /** Stops reading the log FIFO. Idempotent. */
  close(): void;
}

/** Opens the `log` FIFO of a bundle (creating it if needed) and forwards its lines to `logger`. */
export function attachShimLog(dir: string, logger: Logger = silentLogger): FifoReader {
  const logPath = join(dir, 'log');
  makeFifo(logPath, '0700');
  const reader = openFifoReader(logPath);
  const splitter = new LineSplitter(SHIM_LOG_MAX_LINE, (line) => {
    const text = line.toString('utf8').trimEnd();
    if (text.length > 0) logger.info({ bundle: dir, shimLog: text }, 'shim log');
  });
  reader.socket.on('data', (c: Buffer) => splitter.push(c));
  reader.socket.on('end', () => splitter.end());
  return reader;
}

/**
 * Writes `<dir>/config.json` and `<dir>/rootfs/`, creates the `log` FIFO (0700) and keeps a
 * non-blocking reader on it whose lines go to the logger. Rewriting an existing bundle (a
 * retried create) replaces config.json and reuses the FIFO.
 */
export function writeBundle(dir: string, spec: OciSpec, opts: WriteBundleOptions = {}): Bundle {
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new CocoonError('ERR_KATA_BUNDLE_IO', 'bundle directory must be non-empty', { details: { dir } });
  }
  const abs = resolve(dir);
  const configPath = join(abs, 'config.json');
  const rootfsPath = join(abs, 'rootfs');
  const out: OciSpec = structuredClone(spec);
  if (opts.rootfs !== undefined) {
    if (!isAbsolute(opts.rootfs)) {
      throw new CocoonError('ERR_KATA_BUNDLE_IO', 'rootfs must be an absolute path', {
        details: { rootfs: opts.rootfs },
      });
    }
    out.root = { ...(out.root ?? { path: '' }), path: opts.rootfs };
  }
  try {
    mkdirSync(abs, { recursive: true, mode: 0o711 });
    mkdirSync(rootfsPath, { recursive: true, mode: 0o755 });
    writeFileSync(configPath, JSON.stringify(out), { mode: 0o644 });
  } catch (e) {
    throw new CocoonError('ERR_KATA_BUNDLE_IO', `cannot write bundle ${abs}`, {
      cause: e,
      details: { dir: abs },
    });
  }
  const reader = opts.logFifo === false ? undefined : attachShimLog(abs, opts.logger);
  return {
    dir: abs,
    configPath,
    rootfsPath,
    logPath: join(abs, 'log'),
    spec: out,
    close: () => reader?.close(),
  };
}

/** Reads a bundle's config.json back (re-attach after restart). */
export function readBundleSpec(dir: string): OciSpec {
  try {
    return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as OciSpec;
  } catch (e) {
    throw new CocoonError('ERR_KATA_BUNDLE_IO', `cannot read ${dir}/config.json`, {
      cause: e,
      details: { dir },
    });
  }
}

/** Removes a bundle directory (after Delete). Missing directories are fine. */
export function removeBundle(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
  } catch (e) {
    throw new CocoonError('ERR_KATA_BUNDLE_IO', `cannot remove bundle ${dir}`, {
      cause: e,
      details: { dir },
    });
  }
}
