/**
 * Verify step of SEV-SNP (evidence.md §2.5 steps 2–5): pinned AMD roots per product, the
 * VEK → ASK/ASVK → ARK chain with RSA-PSS SHA-384 (salt 48), validity periods, CRLs where given,
 * the VCEK/VLEK binding (TCB extensions = REPORTED_TCB, hwID = CHIP_ID, key kind = KEY_INFO)
 * and the report's ECDSA P-384 signature over bytes [0, 0x2A0) with little-endian R and S.
 * Stops at the first failure with a typed error whose details name the stage ("verify").
 */
import { verify as cryptoVerify, type KeyObject } from 'node:crypto';
import type { Clock } from '../../common/clock.js';
import { systemClock } from '../../common/clock.js';
import { CocoonError, type ErrorCodeString } from '../../common/errors.js';
import { parseReport, SIGNED_END, type SnpProduct, type SnpReport } from './abi.js';
import {
  isSignedBy,
  parseCert,
  parseCrl,
  pemBlocks,
  roleOf,
  vekExtensions,
  verifyPss,
  type AmdCert,
  type AmdCrl,
  type VekExtensions,
} from './certs.js';
import type { KdsClient } from './kds.js';
import { AMD_ROOTS_PEM } from './roots/index.js';
import type { EvidenceCerts } from './trustee-json.js';

/** One product's trust anchors, as PEM text or DER. The ASK/ASVK are optional defaults. */
export interface ProductRoots {
  readonly ark: string | Uint8Array;
  readonly ask?: string | Uint8Array;
  readonly asvk?: string | Uint8Array;
}

/** Trust anchors by product. */
export type SnpRoots = Readonly<Partial<Record<SnpProduct, ProductRoots>>>;

/** Options of the SNP verify step. */
export interface SnpVerifyOptions {
  /**
   * Trust anchors by product. Default: AMD's published Milan, Genoa and Turin roots
   * (roots/). Passing roots replaces the defaults entirely (the simulator's test ARK is accepted
   * only this way).
   */
  readonly roots?: SnpRoots;
  /** Verification time; default the system clock. */
  readonly clock?: Clock;
  /** DER CRLs to check (each applies to the product whose ARK signed it); default none. */
  readonly crls?: readonly Uint8Array[];
  /** When true, a product without a CRL fails (ERR_SNP_CRL_INVALID); default false. */
  readonly requireCrl?: boolean;
  /** Fetches a missing VCEK (and, with requireCrl, the CRL) from AMD KDS; default none (offline). */
  readonly kds?: KdsClient;
  /** Product to assume for v2 reports without a VEK to say which; default none. */
  readonly product?: SnpProduct;
  /**
   * Remember chain-signature results per (issuer key, certificate bytes) so a warm verifier does
   * not redo RSA-PSS for certificates it already checked; validity, CRLs and bindings are still
   * checked every time. Default true.
   */
  readonly memoizeChainSignatures?: boolean;
}

/** What the verify step proved. */
export interface SnpVerified {
  /** The report, re-parsed with the product's TCB layout when the VEK revealed it. */
  readonly report: SnpReport;
  readonly product: SnpProduct;
  readonly vekKind: 'vcek' | 'vlek';
  readonly vek: AmdCert;
  readonly vekExtensions: VekExtensions;
  /** VEK, ASK/ASVK, ARK. */
  readonly chain: readonly AmdCert[];
}

function fail(code: ErrorCodeString, message: string, details: Record<string, unknown> = {}): CocoonError {
  return new CocoonError(code, message, { details: { stage: 'verify', ...details } });
}

function toDer(x: string | Uint8Array, what: string): Uint8Array {
  if (typeof x !== 'string') return x;
  const blocks = pemBlocks(x);
  if (blocks.length !== 1) throw new TypeError(`SNP roots: ${what} must be exactly one PEM certificate`);
  return blocks[0]!;
}

interface ResolvedRoots {
  readonly ark: AmdCert;
  readonly ask?: AmdCert;
  readonly asvk?: AmdCert;
}

/** VEK productName → KDS product line ("Milan-B0" → Milan). */
export function productFromName(name: string | undefined): SnpProduct | undefined {
  const head = (name ?? '').split('-')[0];
  return head === 'Milan' || head === 'Genoa' || head === 'Turin' ? head : undefined;
}

const MAX_CACHE = 1024;

/**
 * A verifier-scoped cache: parsed certificates by DER and chain-signature results by
 * (issuer key, certificate). Validity, CRLs and every binding are still checked on each call.
 */
export class SnpCertCache {
  private readonly parsed = new Map<string, AmdCert>();
  private readonly signed = new WeakMap<AmdCert, WeakMap<AmdCert, boolean>>();
  private readonly memoize: boolean;

  constructor(memoizeSignatures = true) {
    this.memoize = memoizeSignatures;
  }

  /** Parses a certificate, or returns the cached parse of the same bytes. */
  parse(der: Uint8Array, what: string): AmdCert {
    const k = Buffer.from(der).toString('base64');
    let c = this.parsed.get(k);
    if (c === undefined) {
      c = parseCert(der, what);
      if (this.parsed.size >= MAX_CACHE) this.parsed.clear();
      this.parsed.set(k, c);
    }
    return c;
  }

  /** isSignedBy with memoization. */
  signedBy(cert: AmdCert, issuer: AmdCert): boolean {
    if (!this.memoize) return isSignedBy(cert, issuer.publicKey);
    // Keyed by the parsed objects (parse() returns one object per distinct DER), so entries go
    // away with the certificates.
    let byIssuer = this.signed.get(cert);
    if (byIssuer === undefined) this.signed.set(cert, (byIssuer = new WeakMap()));
    let v = byIssuer.get(issuer);
    if (v === undefined) {
      v = isSignedBy(cert, issuer.publicKey);
      byIssuer.set(issuer, v);
    }
    return v;
  }
}

/**
 * Converts the report's R and S (72-byte little-endian, zero-extended) into the 96-byte IEEE
 * P1363 form r‖s (48-byte big-endian each) that node:crypto verifies; undefined when a value does
 * not fit in 48 bytes (evidence.md §2.1 "Signature").
 */
export function p1363FromReport(r: Uint8Array, s: Uint8Array): Uint8Array | undefined {
  const out = new Uint8Array(96);
  for (const [i, v] of [r, s].entries()) {
    for (let j = 48; j < 72; j++) if (v[j] !== 0) return undefined;
    for (let j = 0; j < 48; j++) out[i * 48 + (47 - j)] = v[j]!;
  }
  return out;
}

/** Verifies the report signature (ECDSA P-384, SHA-384 over bytes [0, 0x2A0)). */
export function verifyReportSignature(
  reportBytes: Uint8Array,
  r: Uint8Array,
  s: Uint8Array,
  key: KeyObject,
): boolean {
  const sig = p1363FromReport(r, s);
  if (sig === undefined) return false;
  try {
    return cryptoVerify(
      'sha384',
      reportBytes.subarray(0, SIGNED_END),
      { key, dsaEncoding: 'ieee-p1363' },
      sig,
    );
  } catch {
    return false;
  }
}

function checkValidity(c: AmdCert, now: Date, role: string): void {
  if (now.getTime() < c.notBefore.getTime() || now.getTime() > c.notAfter.getTime()) {
    throw fail(
      'ERR_SNP_CERT_EXPIRED',
      `${role} is valid ${c.notBefore.toISOString()} → ${c.notAfter.toISOString()}, not at ${now.toISOString()}`,
      { cert: role },
    );
  }
}

function isRsa4096(k: KeyObject): boolean {
  return (
    (k.asymmetricKeyType === 'rsa' || k.asymmetricKeyType === 'rsa-pss') &&
    k.asymmetricKeyDetails?.modulusLength === 4096
  );
}

function isP384(k: KeyObject): boolean {
  return k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'secp384r1';
}

/** The SNP verify step, reusable across reports (roots parsed once, cache shared). */
export class SnpReportVerifier {
  private readonly roots = new Map<SnpProduct, ResolvedRoots>();
  private readonly crls: readonly AmdCrl[];
  private readonly opts: SnpVerifyOptions;
  /** Parsed certificates and chain-signature results of this verifier. */
  readonly cache: SnpCertCache;

  constructor(opts: SnpVerifyOptions = {}) {
    this.opts = opts;
    this.cache = new SnpCertCache(opts.memoizeChainSignatures ?? true);
    const roots: SnpRoots =
      opts.roots ??
      Object.fromEntries(
        Object.entries(AMD_ROOTS_PEM).map(([p, r]) => [p, { ark: r.ark, ask: r.ask, asvk: r.asvk }]),
      );
    // Bad trust material is a programmer error (verifier.ts): TypeError, not a verdict.
    try {
      for (const [p, r] of Object.entries(roots) as [SnpProduct, ProductRoots][]) {
        const ark = parseCert(toDer(r.ark, `${p} ARK`), `${p} ARK`);
        this.roots.set(p, {
          ark,
          ...(r.ask === undefined ? {} : { ask: parseCert(toDer(r.ask, `${p} ASK`), `${p} ASK`) }),
          ...(r.asvk === undefined ? {} : { asvk: parseCert(toDer(r.asvk, `${p} ASVK`), `${p} ASVK`) }),
        });
      }
    } catch (e) {
      if (e instanceof TypeError) throw e;
      throw new TypeError(`SNP roots: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.crls = (opts.crls ?? []).map((d) => parseCrl(d));
  }

  /** Products with trust anchors. */
  get products(): SnpProduct[] {
    return [...this.roots.keys()];
  }

  /**
   * Verifies report bytes with the certificates given (evidence `cert_chain`, files) and, when
   * configured, KDS. Throws the first failure as a CocoonError (details.stage = "parse"/"verify").
   */
  async verify(reportBytes: Uint8Array, certs: EvidenceCerts, clock?: Clock): Promise<SnpVerified> {
    const now = (clock ?? this.opts.clock ?? systemClock).now();
    let report = parseReport(
      reportBytes,
      this.opts.product === undefined ? {} : { product: this.opts.product },
    );
    const kind = report.keyInfoBits.signingKey;
    const other = kind === 'vcek' ? 'vlek' : 'vcek';

    // Step 2 (evidence.md §2.5): which VEK, which product.
    let vekDer = certs[kind];
    if (vekDer === undefined && certs[other] !== undefined) {
      throw fail(
        'ERR_SNP_VEK_KIND_MISMATCH',
        `KEY_INFO says the report is signed by the ${kind.toUpperCase()}, but only a ${other.toUpperCase()} was given`,
      );
    }
    if (vekDer === undefined) {
      const product = report.product ?? this.opts.product;
      if (kind === 'vcek' && this.opts.kds !== undefined && product !== undefined) {
        vekDer = await this.opts.kds.getVcek(product, report.chipId, report.reportedTcb);
      } else {
        throw fail(
          'ERR_SNP_CERT_MISSING',
          `no ${kind.toUpperCase()} was given${kind === 'vcek' ? ' and KDS is not enabled (or the product is unknown)' : ' (VLEKs are not served by public KDS)'}`,
        );
      }
    }
    const vek = this.cache.parse(vekDer, kind.toUpperCase());
    const vekRole = roleOf(vek);
    if (vekRole !== kind) {
      if (vekRole === other) {
        throw fail(
          'ERR_SNP_VEK_KIND_MISMATCH',
          `KEY_INFO names the ${kind.toUpperCase()} but the certificate is a ${other.toUpperCase()}`,
        );
      }
      throw fail(
        'ERR_SNP_CERT_INVALID',
        `the ${kind.toUpperCase()} has subject CN "${vek.subject['CN'] ?? ''}"`,
      );
    }
    const vekProduct =
      productFromName(extProductName(vek)) ??
      productFromName((vek.issuer['CN'] ?? '').replace(/^SEV-(VLEK-)?/, ''));
    let product = report.product;
    if (product === undefined) {
      product = vekProduct ?? this.opts.product;
      if (product === undefined)
        throw fail('ERR_SNP_PRODUCT_UNKNOWN', 'the report and its VEK do not say which product they are');
      if (product === 'Turin') report = parseReport(reportBytes, { product }); // Turin TCB layout
    } else if (vekProduct !== undefined && vekProduct !== product) {
      throw fail(
        'ERR_SNP_PRODUCT_UNKNOWN',
        `the report is from a ${product} CPU but the VEK is for ${vekProduct}`,
      );
    }
    const roots = this.roots.get(product);
    if (roots === undefined)
      throw fail('ERR_SNP_ROOT_UNTRUSTED', `no trust anchor is configured for ${product}`);

    // Step 2: a supplied ARK must be the pinned one, byte for byte.
    if (certs.ark !== undefined && Buffer.compare(Buffer.from(certs.ark), Buffer.from(roots.ark.der)) !== 0) {
      throw fail(
        'ERR_SNP_ROOT_UNTRUSTED',
        `the ARK supplied with the evidence is not the pinned ARK-${product}`,
      );
    }
    const ark = roots.ark;
    const caRole = kind === 'vcek' ? 'ask' : 'asvk';
    let ca: AmdCert | undefined;
    if (certs.ask !== undefined) {
      ca = this.cache.parse(certs.ask, caRole.toUpperCase());
      if (roleOf(ca) !== caRole) {
        throw fail(
          'ERR_SNP_CHAIN_INVALID',
          `the CA certificate given is not an ${caRole.toUpperCase()} (CN "${ca.subject['CN'] ?? ''}")`,
        );
      }
    } else {
      ca = roots[caRole];
    }
    if (ca === undefined) throw fail('ERR_SNP_CERT_MISSING', `no ${caRole.toUpperCase()} for ${product}`);

    // Step 3: signatures ARK → ARK, ARK → ASK/ASVK, ASK/ASVK → VEK; names chain; key shapes.
    const link = (c: AmdCert, issuer: AmdCert, role: string): void => {
      if ((c.issuer['CN'] ?? '') !== (issuer.subject['CN'] ?? '')) {
        throw fail(
          'ERR_SNP_CHAIN_INVALID',
          `${role} issuer CN "${c.issuer['CN'] ?? ''}" is not "${issuer.subject['CN'] ?? ''}"`,
          { cert: role },
        );
      }
      if (!this.cache.signedBy(c, issuer)) {
        throw fail('ERR_SNP_CHAIN_INVALID', `${role} signature does not verify (RSA-PSS SHA-384, salt 48)`, {
          cert: role,
        });
      }
    };
    if (!isRsa4096(ark.publicKey) || !isRsa4096(ca.publicKey)) {
      throw fail('ERR_SNP_CERT_INVALID', 'the ARK and ASK/ASVK must carry RSA-4096 keys');
    }
    if (!isP384(vek.publicKey))
      throw fail('ERR_SNP_CERT_INVALID', `the ${kind.toUpperCase()} key is not ECDSA P-384`);
    link(ark, ark, 'ARK');
    link(ca, ark, caRole.toUpperCase());
    link(vek, ca, kind.toUpperCase());
    checkValidity(ark, now, 'ARK');
    checkValidity(ca, now, caRole.toUpperCase());
    checkValidity(vek, now, kind.toUpperCase());

    // CRLs issued by this ARK (KDS /crl): fresh, signed by the ARK, ASK/ASVK not listed.
    const crls = [...this.crls, ...(certs.crl === undefined ? [] : [parseCrl(certs.crl)])].filter(
      (c) => (c.issuer['CN'] ?? '') === (ark.subject['CN'] ?? ''),
    );
    if (crls.length === 0 && this.opts.requireCrl === true) {
      if (this.opts.kds === undefined) throw fail('ERR_SNP_CRL_INVALID', `no CRL for ${product} was given`);
      crls.push(parseCrl(await this.opts.kds.getCrl(product, kind)));
    }
    for (const crl of crls) {
      if (!crl.pssSha384 || !verifyPss(crl.tbs, crl.signature, ark.publicKey)) {
        throw fail('ERR_SNP_CRL_INVALID', `the ${product} CRL is not signed by the ARK`);
      }
      if (
        now.getTime() < crl.thisUpdate.getTime() ||
        (crl.nextUpdate !== undefined && now.getTime() > crl.nextUpdate.getTime())
      ) {
        throw fail('ERR_SNP_CRL_INVALID', `the ${product} CRL is not current at ${now.toISOString()}`);
      }
      if (crl.revokedSerials.has(ca.serial)) {
        throw fail('ERR_SNP_CERT_REVOKED', `the ${caRole.toUpperCase()} (serial ${ca.serial}) is revoked`);
      }
    }

    // Step 4: VEK binding to the report.
    const ext = vekExtensions(vek, product === 'Turin' ? 8 : 64);
    checkVekBinding(report, kind, product, ext);

    // Step 5: the report signature.
    if (!verifyReportSignature(reportBytes, report.signature.r, report.signature.s, vek.publicKey)) {
      throw fail(
        'ERR_SNP_SIGNATURE_INVALID',
        `the report signature does not verify with the ${kind.toUpperCase()}`,
      );
    }
    return { report, product, vekKind: kind, vek, vekExtensions: ext, chain: [vek, ca, ark] };
  }
}

function extProductName(vek: AmdCert): string | undefined {
  try {
    return vekExtensions(vek, 64).productName;
  } catch {
    return undefined;
  }
}

/**
 * The VEK binding (evidence.md §2.4 "Binding checks"): SPL extensions equal REPORTED_TCB (fmcSPL
 * too on Turin), hwID equals CHIP_ID (first 8 bytes on Turin), VCEK has hwID and VLEK csp_id.
 */
export function checkVekBinding(
  report: SnpReport,
  kind: 'vcek' | 'vlek',
  product: SnpProduct,
  ext: VekExtensions,
): void {
  const t = report.reportedTcb;
  const pairs: [string, number | undefined, number][] = [
    ['blSPL', ext.blSpl, t.bootloader],
    ['teeSPL', ext.teeSpl, t.tee],
    ['snpSPL', ext.snpSpl, t.snp],
    ['ucodeSPL', ext.ucodeSpl, t.microcode],
  ];
  if (product === 'Turin') pairs.push(['fmcSPL', ext.fmcSpl, t.fmc ?? 0]);
  for (const [name, got, want] of pairs) {
    if (got !== want) {
      throw fail(
        'ERR_SNP_VEK_TCB_MISMATCH',
        `${kind.toUpperCase()} ${name} is ${got ?? 'absent'} but REPORTED_TCB says ${want}`,
        { extension: name },
      );
    }
  }
  if (kind === 'vcek') {
    if (ext.cspId !== undefined)
      throw fail('ERR_SNP_VEK_KIND_MISMATCH', 'the VCEK carries a csp_id (a VLEK extension)');
    if (ext.hwId === undefined) throw fail('ERR_SNP_CERT_INVALID', 'the VCEK has no hwID extension');
    const want = product === 'Turin' ? report.chipId.subarray(0, 8) : report.chipId;
    if (Buffer.compare(Buffer.from(ext.hwId), Buffer.from(want)) !== 0) {
      throw fail('ERR_SNP_VEK_HWID_MISMATCH', 'the VCEK hwID differs from CHIP_ID');
    }
  } else if (ext.hwId !== undefined) {
    throw fail('ERR_SNP_VEK_KIND_MISMATCH', 'the VLEK carries a hwID (a VCEK extension)');
  }
}
