/**
 * Simulated SEV-SNP: reports with exactly the real 0x4A0 layout (abi.ts), signed by a TEST
 * "AMD" hierarchy ARK → ASK → VCEK whose VCEK carries the AMD extensions (evidence.md §2.4)
 * matching the report's CHIP_ID and REPORTED_TCB. The keys in fixtures/snp-sim/ are TEST KEYS
 * (regenerate with `node --import tsx scripts/gen-snp-sim.ts`); verifiers accept these reports
 * only when `simSnpRoots()` is passed explicitly as `roots` — the embedded AMD roots reject them.
 */
import { constants, createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { packagePath } from '../../common/paths.js';
import { DER_TAG } from '../x509/der.js';
import * as D from '../x509/der-writer.js';
import * as A from './abi.js';
import { OID, pemBlocks } from './certs.js';
import { reportToTrusteeJson } from './trustee-json.js';
import type { SnpRoots } from './verify.js';

/** Folder of the simulator's test keys and test CA certificates. */
export function simDir(): string {
  return packagePath('fixtures', 'snp-sim');
}

/** Validity of the simulated VCEK: [SIM_VCEK_NOT_BEFORE, SIM_VCEK_NOT_AFTER] (7 years, as AMD's). */
export const SIM_VCEK_NOT_BEFORE = new Date('2024-01-01T00:00:00Z');
/** End of the simulated VCEK validity. */
export const SIM_VCEK_NOT_AFTER = new Date('2031-01-01T00:00:00Z');
/** Validity of the simulated ARK/ASK (25 years, as AMD's). */
export const SIM_CA_NOT_BEFORE = new Date('2024-01-01T00:00:00Z');
/** End of the simulated ARK/ASK validity. */
export const SIM_CA_NOT_AFTER = new Date('2049-01-01T00:00:00Z');
/** Serial numbers of the test ARK and ASK (AMD's real ones are 0x010000 and 0x010001). */
export const SIM_ARK_SERIAL = 0x010000n;
/** Serial number of the test ASK; a CRL listing it revokes the simulated chain. */
export const SIM_ASK_SERIAL = 0x010001n;
/** Default simulated CHIP_ID: SHA-512("cocoon simulated SNP chip"). Turin uses its first 8 bytes. */
export const SIM_CHIP_ID: Uint8Array = new Uint8Array(
  createHash('sha512').update('cocoon simulated SNP chip').digest(),
);
/** Default simulated MEASUREMENT: SHA-384("cocoon simulated SNP guest"). */
export const SIM_MEASUREMENT: Uint8Array = new Uint8Array(
  createHash('sha384').update('cocoon simulated SNP guest').digest(),
);

/** The test hierarchy's private keys (TEST KEYS, never trusted by default). */
export interface SimKeys {
  readonly ark: KeyObject;
  readonly ask: KeyObject;
  readonly vcek: KeyObject;
}

let keys: SimKeys | undefined;

/** Loads the committed test keys from fixtures/snp-sim/. */
export function loadSimKeys(): SimKeys {
  if (keys === undefined) {
    const k = (f: string): KeyObject => createPrivateKey(readFileSync(`${simDir()}/${f}`, 'utf8'));
    keys = { ark: k('test-ark.key.pem'), ask: k('test-ask.key.pem'), vcek: k('test-vcek.key.pem') };
  }
  return keys;
}

const pssAlgId = D.seq(
  D.oid(OID.RSASSA_PSS),
  D.seq(
    D.explicit(0, D.seq(D.oid(OID.SHA384), D.NULL_ELEMENT)),
    D.explicit(1, D.seq(D.oid(OID.MGF1), D.seq(D.oid(OID.SHA384), D.NULL_ELEMENT))),
    D.explicit(2, D.int(48)),
    D.explicit(3, D.int(1)),
  ),
);

/** An AMD-style DN with the CN given; OU marks the hierarchy as a test one. */
function amdName(cn: string): Uint8Array {
  const atv = (oid: string, tag: number, v: string): Uint8Array => D.set(D.seq(D.oid(oid), D.str(tag, v)));
  return D.seq(
    atv(OID.OU, DER_TAG.UTF8_STRING, 'Cocoon TEST hierarchy (not AMD)'),
    atv(OID.C, DER_TAG.PRINTABLE_STRING, 'US'),
    atv(OID.L, DER_TAG.UTF8_STRING, 'Santa Clara'),
    atv(OID.ST, DER_TAG.UTF8_STRING, 'CA'),
    atv(OID.O, DER_TAG.UTF8_STRING, 'Advanced Micro Devices'),
    atv(OID.CN, DER_TAG.UTF8_STRING, cn),
  );
}

function signPss(tbs: Uint8Array, key: KeyObject): Uint8Array {
  return sign('sha384', tbs, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 });
}

function certificate(tbs: Uint8Array, signer: KeyObject): Uint8Array {
  return D.seq(tbs, pssAlgId, D.bits(signPss(tbs, signer)));
}

function spkiOf(k: KeyObject): Uint8Array {
  return new Uint8Array(createPublicKey(k).export({ format: 'der', type: 'spki' }));
}

/** Builds a test ARK (self-signed) or ASK (signed by the ARK) certificate for `product`. */
export function buildSimCaCert(
  role: 'ark' | 'ask',
  product: A.SnpProduct,
  k: SimKeys = loadSimKeys(),
): Uint8Array {
  const subject = amdName(role === 'ark' ? `ARK-${product}` : `SEV-${product}`);
  const tbs = D.seq(
    D.explicit(0, D.int(2)),
    D.int(role === 'ark' ? SIM_ARK_SERIAL : SIM_ASK_SERIAL),
    pssAlgId,
    amdName(`ARK-${product}`),
    D.seq(D.time(SIM_CA_NOT_BEFORE), D.time(SIM_CA_NOT_AFTER)),
    subject,
    spkiOf(role === 'ark' ? k.ark : k.ask),
  );
  return certificate(tbs, k.ark);
}

/** TCB parts of a simulated VCEK/report. */
export interface SimTcb {
  readonly fmc?: number;
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
}

/** Default simulated TCB (the Genoa sample's values). */
export const SIM_TCB: SimTcb = { fmc: 0, bootloader: 10, tee: 0, snp: 23, microcode: 25 };

/** Options of buildSimVcekCert. */
export interface SimVcekOptions {
  readonly product: A.SnpProduct;
  readonly chipId: Uint8Array;
  readonly tcb: SimTcb;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** hwID encoding: raw (default, as every real VCEK) or DER OCTET STRING. */
  readonly hwIdEncoding?: 'raw' | 'octet-string';
}

/** Builds a test VCEK with AMD's extensions (serial 0, CN SEV-VCEK), signed by the test ASK. */
export function buildSimVcekCert(o: SimVcekOptions, k: SimKeys = loadSimKeys()): Uint8Array {
  const turin = o.product === 'Turin';
  const ext = (oid: string, value: Uint8Array): Uint8Array => D.seq(D.oid(oid), D.octets(value));
  const hw = turin ? o.chipId.subarray(0, 8) : o.chipId;
  const exts = [
    ext(OID.AMD_STRUCT_VERSION, D.int(turin ? 1 : 0)),
    ext(
      OID.AMD_PRODUCT_NAME,
      D.str(DER_TAG.IA5_STRING, turin ? 'Turin' : o.product === 'Milan' ? 'Milan-B0' : 'Genoa'),
    ),
    ...(turin ? [ext(OID.AMD_FMC_SPL, D.int(o.tcb.fmc ?? 0))] : []),
    ext(OID.AMD_BL_SPL, D.int(o.tcb.bootloader)),
    ext(OID.AMD_TEE_SPL, D.int(o.tcb.tee)),
    ext(OID.AMD_SNP_SPL, D.int(o.tcb.snp)),
    ...[4, 5, 6, 7].filter((n) => !(turin && n === 4)).map((n) => ext(`1.3.6.1.4.1.3704.1.3.${n}`, D.int(0))),
    ext(OID.AMD_UCODE_SPL, D.int(o.tcb.microcode)),
    ext(OID.AMD_HWID, o.hwIdEncoding === 'octet-string' ? D.octets(hw) : hw),
  ];
  const tbs = D.seq(
    D.explicit(0, D.int(2)),
    D.int(0),
    pssAlgId,
    amdName(`SEV-${o.product}`),
    D.seq(D.time(o.notBefore ?? SIM_VCEK_NOT_BEFORE), D.time(o.notAfter ?? SIM_VCEK_NOT_AFTER)),
    amdName('SEV-VCEK'),
    spkiOf(k.vcek),
    D.explicit(3, D.seq(...exts)),
  );
  return certificate(tbs, k.ask);
}

/** Builds a test CRL for `product`, signed by the test ARK, listing `revoked` serials. */
export function buildSimCrl(
  product: A.SnpProduct,
  revoked: readonly bigint[],
  thisUpdate: Date,
  nextUpdate: Date,
  k: SimKeys = loadSimKeys(),
): Uint8Array {
  const entries = revoked.map((s) => D.seq(D.int(s), D.time(thisUpdate)));
  const tbs = D.seq(
    D.int(1),
    pssAlgId,
    amdName(`ARK-${product}`),
    D.time(thisUpdate),
    D.time(nextUpdate),
    ...(entries.length > 0 ? [D.seq(...entries)] : []),
  );
  return D.seq(tbs, pssAlgId, D.bits(signPss(tbs, k.ark)));
}

const caCache = new Map<string, Uint8Array>();

function caCert(role: 'ark' | 'ask', product: A.SnpProduct): Uint8Array {
  const key = `${role}-${product}`;
  let der = caCache.get(key);
  if (der === undefined) {
    der = pemBlocks(readFileSync(`${simDir()}/test-${role}-${product.toLowerCase()}.pem`, 'utf8'))[0]!;
    caCache.set(key, der);
  }
  return der;
}

/** The test roots to pass as `roots` (SnpVerifyOptions) to accept simulated reports. */
export function simSnpRoots(): SnpRoots {
  return Object.fromEntries(A.SNP_PRODUCTS.map((p) => [p, { ark: caCert('ark', p), ask: caCert('ask', p) }]));
}

/** Options of generateSimSnpReport. */
export interface SimSnpReportOptions {
  /** REPORT_DATA (exactly 64 bytes): the KBS binding digest followed by zero padding. */
  readonly reportData: Uint8Array;
  /** HOST_DATA (32 bytes); default zero. */
  readonly hostData?: Uint8Array;
  /** Set POLICY.DEBUG; default false. */
  readonly debug?: boolean;
  /** MEASUREMENT (48 bytes); default SIM_MEASUREMENT. */
  readonly measurement?: Uint8Array;
  /** Product line; default Milan. */
  readonly product?: A.SnpProduct;
  /** Report version (2, 3 or 5); default 3. */
  readonly version?: number;
  /** VMPL; default 0. */
  readonly vmpl?: number;
  /** GUEST_SVN; default 0. */
  readonly guestSvn?: number;
  /** TCB (current = reported = committed = launch); default SIM_TCB. */
  readonly tcb?: SimTcb;
  /** CHIP_ID; default SIM_CHIP_ID (Turin: first 8 bytes, rest zero). */
  readonly chipId?: Uint8Array;
  /** Extra POLICY bits (ORed into 0x30000 = SMT + reserved bit 17). */
  readonly policyBits?: bigint;
}

/** A simulated report with the certificates that verify it under simSnpRoots(). */
export interface SimSnpReport {
  /** The 0x4A0-byte signed report. */
  readonly report: Uint8Array;
  /** VCEK, ASK and ARK (DER) of the test hierarchy. */
  readonly certChain: { readonly vcek: Uint8Array; readonly ask: Uint8Array; readonly ark: Uint8Array };
  /** Trustee's evidence JSON for the same report (cert_chain carries the VCEK only, as guests send it). */
  readonly evidence: Record<string, unknown>;
}

const CPUID: Readonly<Record<A.SnpProduct, [number, number, number]>> = {
  Milan: [0x19, 0x01, 0x01],
  Genoa: [0x19, 0xa0, 0x02],
  Turin: [0x1a, 0x02, 0x00],
};

const vcekCache = new Map<string, Uint8Array>();

/** Generates a signed simulated SNP report (see the module comment for how it is trusted). */
export function generateSimSnpReport(o: SimSnpReportOptions): SimSnpReport {
  if (o.reportData.length !== 64) throw new TypeError('generateSimSnpReport: reportData must be 64 bytes');
  if (o.hostData !== undefined && o.hostData.length !== 32) throw new TypeError('hostData must be 32 bytes');
  if (o.measurement !== undefined && o.measurement.length !== 48)
    throw new TypeError('measurement must be 48 bytes');
  const product = o.product ?? 'Milan';
  const version = o.version ?? 3;
  const layout = A.tcbLayoutOf(product);
  const tcb = o.tcb ?? SIM_TCB;
  const chipId = new Uint8Array(64);
  const srcChip = o.chipId ?? SIM_CHIP_ID;
  chipId.set(product === 'Turin' ? srcChip.subarray(0, 8) : srcChip.subarray(0, 64));
  const t = A.makeTcb(layout, tcb);
  const policy = 0x30000n | (o.debug === true ? 1n << 19n : 0n) | (o.policyBits ?? 0n);
  const [fam, mod, step] = CPUID[product];
  const platformInfo = version >= 3 ? 0x25n : 0x1n; // SMT_EN, ECC_EN, ALIAS_CHECK_COMPLETE (v3+)
  const unsigned: A.SnpReport = {
    version,
    guestSvn: o.guestSvn ?? 0,
    policy,
    policyBits: A.decodePolicy(policy),
    familyId: new Uint8Array(16),
    imageId: new Uint8Array(16),
    vmpl: o.vmpl ?? 0,
    signatureAlgo: A.SIG_ALGO_ECDSA_P384_SHA384,
    currentTcb: t,
    platformInfo,
    platformInfoBits: A.decodePlatformInfo(platformInfo),
    keyInfo: 0,
    keyInfoBits: { authorKeyEnabled: false, maskChipKey: false, signingKey: 'vcek' },
    reportData: Uint8Array.from(o.reportData),
    measurement: Uint8Array.from(o.measurement ?? SIM_MEASUREMENT),
    hostData: Uint8Array.from(o.hostData ?? new Uint8Array(32)),
    idKeyDigest: new Uint8Array(48),
    authorKeyDigest: new Uint8Array(48),
    reportId: new Uint8Array(createHash('sha256').update(o.reportData).digest()),
    reportIdMa: new Uint8Array(32).fill(0xff),
    reportedTcb: t,
    ...(version >= 3 ? { cpuidFamId: fam, cpuidModId: mod, cpuidStep: step } : {}),
    chipId,
    committedTcb: t,
    currentBuild: 40,
    currentMinor: 55,
    currentMajor: 1,
    committedBuild: 40,
    committedMinor: 55,
    committedMajor: 1,
    launchTcb: t,
    ...(version >= 5 ? { launchMitVector: 0xbn, currentMitVector: 0xbn } : {}),
    signature: { r: new Uint8Array(72), s: new Uint8Array(72) },
    signatureReserved: new Uint8Array(368),
  };
  const k = loadSimKeys();
  const bytes = A.reportToBytes(unsigned);
  const sig = sign('sha384', bytes.subarray(0, A.SIGNED_END), { key: k.vcek, dsaEncoding: 'ieee-p1363' });
  const le = (be: Uint8Array): Uint8Array => {
    const out = new Uint8Array(72);
    for (let i = 0; i < 48; i++) out[i] = be[47 - i]!;
    return out;
  };
  const r = le(sig.subarray(0, 48));
  const s = le(sig.subarray(48, 96));
  const report = A.reportToBytes({ ...unsigned, signature: { r, s } });
  const vkey = `${product}|${Buffer.from(chipId).toString('hex')}|${JSON.stringify(tcb)}`;
  let vcek = vcekCache.get(vkey);
  if (vcek === undefined) {
    vcek = buildSimVcekCert({ product, chipId, tcb }, k);
    vcekCache.set(vkey, vcek);
  }
  const certChain = { vcek, ask: caCert('ask', product), ark: caCert('ark', product) };
  const evidence = {
    attestation_report: reportToTrusteeJson(A.parseReport(report)),
    cert_chain: [{ cert_type: 'VCEK', data: Array.from(vcek) }],
  };
  return { report, certChain, evidence };
}
