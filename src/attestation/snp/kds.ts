/**
 * AMD Key Distribution Service (KDS) access for SEV-SNP: URL shapes (evidence.md §2.4 "KDS URL
 * shapes"), an injected fetcher (never ambient network: STYLE.md rule 5) and an on-disk cache.
 * VCEK responses for one URL never change (the URL names chip and TCB), so they are cached
 * forever; CRLs are cached until their nextUpdate.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isZero } from '../../common/bytes.js';
import type { Clock } from '../../common/clock.js';
import { systemClock } from '../../common/clock.js';
import { CocoonError, isCocoonError } from '../../common/errors.js';
import type { SnpProduct, TcbVersion } from './abi.js';
import { parseCrl } from './certs.js';

/** Default KDS base URL. */
export const DEFAULT_KDS_BASE_URL = 'https://kdsintf.amd.com';
/** Largest KDS response accepted (a VCEK is ~1.4 KB, a chain ~4.6 KB). */
export const KDS_MAX_RESPONSE_BYTES = 256 * 1024;
/** Default per-request timeout of the default fetcher. */
export const DEFAULT_KDS_TIMEOUT_MS = 10_000;

/** Fetches one URL and resolves with the body; rejects (typed) on any non-200 answer. */
export type Fetcher = (url: string) => Promise<Uint8Array>;

/** Hex of the hwID KDS expects: all 64 CHIP_ID bytes, or the first 8 on Turin. */
export function kdsHwId(product: SnpProduct, chipId: Uint8Array): string {
  return Buffer.from(product === 'Turin' ? chipId.subarray(0, 8) : chipId).toString('hex');
}

/** VCEK URL for a chip and REPORTED_TCB (GOSEV prints SPLs unpadded; KDS accepts both). */
export function vcekUrl(
  product: SnpProduct,
  chipId: Uint8Array,
  tcb: TcbVersion,
  base = DEFAULT_KDS_BASE_URL,
): string {
  const q =
    product === 'Turin'
      ? `fmcSPL=${tcb.fmc ?? 0}&blSPL=${tcb.bootloader}&teeSPL=${tcb.tee}&snpSPL=${tcb.snp}&ucodeSPL=${tcb.microcode}`
      : `blSPL=${tcb.bootloader}&teeSPL=${tcb.tee}&snpSPL=${tcb.snp}&ucodeSPL=${tcb.microcode}`;
  return `${base}/vcek/v1/${product}/${kdsHwId(product, chipId)}?${q}`;
}

/** CA chain URL (ASK/ASVK then ARK, PEM). */
export function certChainUrl(
  product: SnpProduct,
  kind: 'vcek' | 'vlek',
  base = DEFAULT_KDS_BASE_URL,
): string {
  return `${base}/${kind}/v1/${product}/cert_chain`;
}

/** CRL URL (DER, signed by the ARK). */
export function crlUrl(product: SnpProduct, kind: 'vcek' | 'vlek', base = DEFAULT_KDS_BASE_URL): string {
  return `${base}/${kind}/v1/${product}/crl`;
}

/** Options of the default fetcher. */
export interface HttpFetcherOptions {
  /** Per-request timeout; default DEFAULT_KDS_TIMEOUT_MS. */
  readonly timeoutMs?: number;
}

/** A fetcher over the global fetch (used only when the caller opts in to going online). */
export function httpFetcher(opts: HttpFetcherOptions = {}): Fetcher {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_KDS_TIMEOUT_MS;
  return async (url) => {
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      throw new CocoonError('ERR_SNP_KDS_FETCH', `KDS request failed: ${url}`, {
        cause: e,
        details: { url },
      });
    }
    if (res.status !== 200) {
      throw new CocoonError('ERR_SNP_KDS_FETCH', `KDS answered ${res.status} for ${url}`, {
        details: { url, status: res.status },
      });
    }
    const body = new Uint8Array(await res.arrayBuffer());
    if (body.length > KDS_MAX_RESPONSE_BYTES) {
      throw new CocoonError('ERR_SNP_KDS_FETCH', `KDS response too large (${body.length} bytes)`, {
        details: { url },
      });
    }
    return body;
  };
}

/** Options of the KDS client. */
export interface KdsClientOptions {
  /** How URLs are fetched (required: tests inject a fake or a loopback server). */
  readonly fetcher: Fetcher;
  /** KDS base URL; default DEFAULT_KDS_BASE_URL. */
  readonly baseUrl?: string;
  /** On-disk cache folder; default none (memory only). */
  readonly cacheDir?: string;
  /** Time source for CRL freshness; default the system clock. */
  readonly clock?: Clock;
}

/** Fetches VCEKs and CRLs from KDS through a cache. */
export interface KdsClient {
  /** VCEK DER for the chip and TCB. Throws ERR_SNP_CERT_MISSING when CHIP_ID is masked. */
  getVcek(product: SnpProduct, chipId: Uint8Array, reportedTcb: TcbVersion): Promise<Uint8Array>;
  /** CRL DER for the product line. */
  getCrl(product: SnpProduct, kind: 'vcek' | 'vlek'): Promise<Uint8Array>;
}

function cacheFile(dir: string, url: string): string {
  return join(dir, `${createHash('sha256').update(url).digest('hex')}.der`);
}

async function readCache(dir: string | undefined, url: string): Promise<Uint8Array | undefined> {
  if (dir === undefined) return undefined;
  try {
    return new Uint8Array(await readFile(cacheFile(dir, url)));
  } catch {
    return undefined;
  }
}

async function writeCache(dir: string | undefined, url: string, body: Uint8Array): Promise<void> {
  if (dir === undefined) return;
  await mkdir(dir, { recursive: true });
  const f = cacheFile(dir, url);
  const tmp = `${f}.${process.pid}.tmp`;
  await writeFile(tmp, body);
  await rename(tmp, f); // atomic replace: readers never see half a file
}

/** Creates a KDS client with a memory cache and, optionally, an on-disk cache. */
export function createKdsClient(opts: KdsClientOptions): KdsClient {
  const base = opts.baseUrl ?? DEFAULT_KDS_BASE_URL;
  const clock = opts.clock ?? systemClock;
  const memory = new Map<string, Uint8Array>();
  const fetchOnce = async (url: string): Promise<Uint8Array> => {
    try {
      return await opts.fetcher(url);
    } catch (e) {
      if (isCocoonError(e)) throw e;
      throw new CocoonError('ERR_SNP_KDS_FETCH', `KDS request failed: ${url}`, {
        cause: e,
        details: { url },
      });
    }
  };
  return {
    async getVcek(product, chipId, reportedTcb) {
      if (isZero(chipId)) {
        throw new CocoonError(
          'ERR_SNP_CERT_MISSING',
          'CHIP_ID is masked (all zero): the VCEK cannot be fetched; pass it with the evidence',
          { details: { stage: 'verify' } },
        );
      }
      const url = vcekUrl(product, chipId, reportedTcb, base);
      const hit = memory.get(url) ?? (await readCache(opts.cacheDir, url));
      if (hit !== undefined) {
        memory.set(url, hit);
        return hit;
      }
      const body = await fetchOnce(url);
      memory.set(url, body);
      await writeCache(opts.cacheDir, url, body);
      return body;
    },
    async getCrl(product, kind) {
      const url = crlUrl(product, kind, base);
      const fresh = (b: Uint8Array | undefined): boolean => {
        if (b === undefined) return false;
        try {
          const next = parseCrl(b).nextUpdate;
          return next !== undefined && clock.now().getTime() <= next.getTime();
        } catch {
          return false;
        }
      };
      let hit = memory.get(url);
      if (!fresh(hit)) hit = await readCache(opts.cacheDir, url);
      if (fresh(hit)) {
        memory.set(url, hit!);
        return hit!;
      }
      const body = await fetchOnce(url);
      memory.set(url, body);
      await writeCache(opts.cacheDir, url, body);
      return body;
    },
  };
}

/**
 * A KDS client over Trustee's offline VCEK store layout (evidence.md §2.4):
 * `<dir>/vcek/<hwid>/bl{NN}_tee{NN}_snp{NN}_ucode{NN}[_fmc{NN}]_vcek.der`, falling back to
 * `<dir>/vcek/<hwid>/vcek.der`. CRLs are read from `<dir>/<kind>/<product>/crl.der`.
 */
export function createOfflineKdsClient(dir: string): KdsClient {
  const pad = (n: number | undefined): string => String(n ?? 0).padStart(2, '0');
  const read = async (paths: string[], what: string): Promise<Uint8Array> => {
    for (const p of paths) {
      try {
        return new Uint8Array(await readFile(p));
      } catch {
        /* try the next candidate */
      }
    }
    throw new CocoonError('ERR_SNP_CERT_MISSING', `no ${what} in the offline store ${dir}`, {
      details: { stage: 'verify', tried: paths },
    });
  };
  return {
    getVcek(product, chipId, t) {
      const hw = kdsHwId(product, chipId);
      const fmc = product === 'Turin' ? `_fmc${pad(t.fmc)}` : '';
      const name = `bl${pad(t.bootloader)}_tee${pad(t.tee)}_snp${pad(t.snp)}_ucode${pad(t.microcode)}${fmc}_vcek.der`;
      return read([join(dir, 'vcek', hw, name), join(dir, 'vcek', hw, 'vcek.der')], 'VCEK');
    },
    getCrl(product, kind) {
      return read([join(dir, kind, product, 'crl.der')], 'CRL');
    },
  };
}
