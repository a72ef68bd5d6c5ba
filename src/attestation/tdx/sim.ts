/**
 * Simulated TDX: a generator of quotes with exactly the real v4 layout (evidence.md §1.1–§1.4),
 * signed by a TEST hierarchy — a test "Intel SGX Root CA" → test "Intel SGX PCK Platform CA" →
 * PCK leaf with the SGX extension (§1.6), an attestation key and a QE report — together with
 * matching collateral: TCB Info and QE Identity signed by a test "Intel SGX TCB Signing" cert,
 * a Root CA CRL and a PCK CRL (listing one revoked test leaf).
 *
 * These are test keys. The verifier accepts sim quotes only when the test root is passed
 * explicitly as a trust root (the default pin is the real Intel root's fingerprint).
 *
 * The hierarchy is generated once by scripts/gen-tdx-sim.ts (@peculiar/x509 issues the
 * certificates and CRLs) into fixtures/tdx-sim/, and loaded from there; quote generation is
 * synchronous node:crypto signing with keys loaded once, fast enough for benchmarks.
 */
import 'reflect-metadata';
import { createHash, createPrivateKey, sign as cryptoSign, webcrypto, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { packagePath } from '../../common/paths.js';
import { DER_TAG } from '../x509/der.js';
import * as D from '../x509/der-writer.js';
import {
  ATT_KEY_TYPE_ECDSA_P256,
  BODY_TYPE_TDX10,
  CERT_DATA_PCK_CHAIN,
  CERT_DATA_QE_REPORT,
  INTEL_QE_VENDOR_ID,
  QUOTE_VERSION_4,
  TEE_TYPE_TDX,
  parseSgxReportBody,
  quoteToBytes,
  sgxReportBodyToBytes,
  signedRegionToBytes,
  type SgxReportBody,
  type TdQuoteBody,
} from './abi.js';
import { collateralFromPcsFiles, type TdxCollateral } from './collateral.js';
import { SGX_EXTENSION_OID } from './pck.js';

/** Default directory of the checked-in sim hierarchy. */
export const SIM_FIXTURE_DIR = 'fixtures/tdx-sim';

/** Files of a sim hierarchy (name → contents), as written to fixtures/tdx-sim/. */
export type SimFiles = Readonly<Record<string, string | Uint8Array>>;

/** Fixed values the sim uses (documented in fixtures/tdx-sim/README.md). */
export const SIM = {
  fmspc: '00906ed50000',
  pceId: '0000',
  pceSvn: 11,
  sgxComponents: [3, 3, 2, 2, 2, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0],
  /** TEE_TCB_SVN of sim quotes: module ISVSVN 5, major version 1 (TDX_01). */
  teeTcbSvn: [5, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  qeMrSigner: '5a'.repeat(32),
  qeIsvProdId: 2,
  qeIsvSvn: 8,
  revokedLeafSerial: '0badc0de',
  notBefore: '2025-01-01T00:00:00Z',
  notAfter: '2099-12-31T00:00:00Z',
} as const;

/** A loaded sim hierarchy: signing keys and the material quotes and collateral are built from. */
export interface SimTdxHierarchy {
  /** Test root certificate PEM — pass it as a trust root to accept sim quotes. */
  readonly rootPem: string;
  /** PCK chain PEM (leaf, CA, root) carried in quotes. */
  readonly pckChainPem: string;
  /** PCK chain whose leaf is listed in the sim PCK CRL. */
  readonly revokedPckChainPem: string;
  readonly attestationKey: KeyObject;
  /** Raw X‖Y of the attestation key. */
  readonly attestationPublicKey: Uint8Array;
  /** QE report (bound to the attestation key) and its signature by the PCK leaf key. */
  readonly qeReport: SgxReportBody;
  readonly qeReportSignature: Uint8Array;
  readonly qeAuthData: Uint8Array;
  readonly collateral: TdxCollateral;
  readonly files: SimFiles;
}

// One SEQUENCE { OID, value } member of the SGX extension (evidence.md §1.6).
const member = (o: string, v: Uint8Array): Uint8Array => D.seq(D.oid(o), v);

/** DER of the SGX extension value for the sim PCK leaf (§1.6). */
export function simSgxExtension(ppid: Uint8Array, platformInstanceId: Uint8Array): Uint8Array {
  const e = SGX_EXTENSION_OID;
  const tcb = D.seq(
    ...SIM.sgxComponents.map((svn, i) => member(`${e}.2.${i + 1}`, D.int(svn))),
    member(`${e}.2.17`, D.int(SIM.pceSvn)),
    member(`${e}.2.18`, D.octets(new Uint8Array(SIM.sgxComponents))),
  );
  const ext = D.seq(
    member(`${e}.1`, D.octets(ppid)),
    member(`${e}.2`, tcb),
    member(`${e}.3`, D.octets(Buffer.from(SIM.pceId, 'hex'))),
    member(`${e}.4`, D.octets(Buffer.from(SIM.fmspc, 'hex'))),
    member(`${e}.5`, D.int(1, DER_TAG.ENUMERATED)),
    member(`${e}.6`, D.octets(platformInstanceId)),
    member(
      `${e}.7`,
      D.seq(
        member(`${e}.7.1`, D.bool(false)),
        member(`${e}.7.2`, D.bool(true)),
        member(`${e}.7.3`, D.bool(true)),
      ),
    ),
  );
  // A plain Uint8Array (the writer returns Buffers), as before the writer was shared.
  return new Uint8Array(ext);
}

/** Sim TDX TCB Info JSON text (§1.7): one UpToDate level matching the sim PCK, one older OutOfDate level. */
export function simTcbInfoJson(issueDate: string, nextUpdate: string): string {
  const comps = (svns: readonly number[]): { svn: number }[] => svns.map((svn) => ({ svn }));
  const zero48 = '00'.repeat(48);
  return JSON.stringify({
    id: 'TDX',
    version: 3,
    issueDate,
    nextUpdate,
    fmspc: SIM.fmspc.toUpperCase(),
    pceId: SIM.pceId,
    tcbType: 0,
    tcbEvaluationDataNumber: 17,
    tdxModule: { mrsigner: zero48, attributes: '0000000000000000', attributesMask: 'FFFFFFFFFFFFFFFF' },
    tdxModuleIdentities: [
      {
        id: 'TDX_01',
        mrsigner: zero48,
        attributes: '0000000000000000',
        attributesMask: 'FFFFFFFFFFFFFFFF',
        tcbLevels: [
          { tcb: { isvsvn: 5 }, tcbDate: '2025-01-01T00:00:00Z', tcbStatus: 'UpToDate' },
          {
            tcb: { isvsvn: 2 },
            tcbDate: '2024-01-01T00:00:00Z',
            tcbStatus: 'OutOfDate',
            advisoryIDs: ['INTEL-SA-SIM-0002'],
          },
        ],
      },
    ],
    tcbLevels: [
      {
        tcb: {
          sgxtcbcomponents: comps(SIM.sgxComponents),
          pcesvn: SIM.pceSvn,
          tdxtcbcomponents: comps(SIM.teeTcbSvn),
        },
        tcbDate: '2025-01-01T00:00:00Z',
        tcbStatus: 'UpToDate',
      },
      {
        tcb: {
          sgxtcbcomponents: comps(SIM.sgxComponents.map(() => 0)),
          pcesvn: 5,
          tdxtcbcomponents: comps(SIM.teeTcbSvn.map(() => 0)),
        },
        tcbDate: '2024-01-01T00:00:00Z',
        tcbStatus: 'OutOfDate',
        advisoryIDs: ['INTEL-SA-SIM-0001'],
      },
    ],
  });
}

/** Sim TD QE Identity JSON text (§1.8) matching the sim QE report. */
export function simQeIdentityJson(issueDate: string, nextUpdate: string): string {
  return JSON.stringify({
    id: 'TD_QE',
    version: 2,
    issueDate,
    nextUpdate,
    tcbEvaluationDataNumber: 17,
    miscselect: '00000000',
    miscselectMask: 'FFFFFFFF',
    attributes: '11000000000000000000000000000000',
    attributesMask: 'FBFFFFFFFFFFFFFF0000000000000000',
    mrsigner: SIM.qeMrSigner.toUpperCase(),
    isvprodid: SIM.qeIsvProdId,
    tcbLevels: [{ tcb: { isvsvn: SIM.qeIsvSvn }, tcbDate: '2025-01-01T00:00:00Z', tcbStatus: 'UpToDate' }],
  });
}

// Web Crypto types of node:crypto (the DOM lib is not loaded); @peculiar/x509 takes the same objects.
type WebKey = webcrypto.CryptoKey;
type X509Key = Parameters<typeof x509.X509CertificateGenerator.create>[0] extends { signingKey: infer K }
  ? K
  : never;
type X509Pair = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'];
type X509Crypto = Parameters<typeof x509.cryptoProvider.set>[0];
const asKey = (k: WebKey): X509Key => k as unknown as X509Key;

const ECDSA = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIG_ALG = { name: 'ECDSA', hash: 'SHA-256' } as const;

async function pkcs8Pem(k: WebKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', k));
  return `-----BEGIN PRIVATE KEY-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trim()}\n-----END PRIVATE KEY-----\n`;
}

/**
 * Generates a fresh sim hierarchy (test keys, certificates, CRLs, signed collateral) and returns
 * its files. Used by scripts/gen-tdx-sim.ts; tests load the checked-in result instead.
 */
export async function generateSimHierarchyFiles(): Promise<SimFiles> {
  x509.cryptoProvider.set(webcrypto as unknown as X509Crypto);
  const gen = (): Promise<webcrypto.CryptoKeyPair> =>
    webcrypto.subtle.generateKey(ECDSA, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;
  const [rootK, caK, leafK, tcbK, attK] = await Promise.all([gen(), gen(), gen(), gen(), gen()]);
  const notBefore = new Date(SIM.notBefore);
  const notAfter = new Date(SIM.notAfter);
  const O = 'O=Cocoon TEST ONLY,L=Nowhere,C=XX';
  const rootName = `CN=Intel SGX Root CA,${O}`;
  const caName = `CN=Intel SGX PCK Platform CA,${O}`;
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: rootName,
    notBefore,
    notAfter,
    keys: rootK as unknown as X509Pair,
    signingAlgorithm: SIG_ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const issue = async (
    serial: string,
    subject: string,
    issuer: string,
    pub: WebKey,
    signer: WebKey,
    ca: boolean,
    extra: x509.Extension[] = [],
  ): Promise<x509.X509Certificate> =>
    x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject,
      issuer,
      notBefore,
      notAfter,
      publicKey: asKey(pub),
      signingKey: asKey(signer),
      signingAlgorithm: SIG_ALG,
      extensions: [
        new x509.BasicConstraintsExtension(ca, ca ? 0 : undefined, true),
        new x509.KeyUsagesExtension(
          ca
            ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign
            : x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        ...extra,
      ],
    });
  const ca = await issue('02', caName, rootName, caK.publicKey, rootK.privateKey, true);
  const ppid = new Uint8Array(16).fill(0x11);
  const pid = new Uint8Array(16).fill(0x22);
  const sgxExt = new x509.Extension(SGX_EXTENSION_OID, false, simSgxExtension(ppid, pid));
  const leafName = `CN=Intel SGX PCK Certificate,${O}`;
  const leaf = await issue('1234', leafName, caName, leafK.publicKey, caK.privateKey, false, [sgxExt]);
  const revokedLeaf = await issue(
    SIM.revokedLeafSerial,
    leafName,
    caName,
    leafK.publicKey,
    caK.privateKey,
    false,
    [sgxExt],
  );
  const tcb = await issue(
    '03',
    `CN=Intel SGX TCB Signing,${O}`,
    rootName,
    tcbK.publicKey,
    rootK.privateKey,
    false,
  );
  const rootCrl = await x509.X509CrlGenerator.create({
    issuer: rootName,
    thisUpdate: notBefore,
    nextUpdate: notAfter,
    signingKey: asKey(rootK.privateKey),
    signingAlgorithm: SIG_ALG,
    entries: [],
  });
  const pckCrl = await x509.X509CrlGenerator.create({
    issuer: caName,
    thisUpdate: notBefore,
    nextUpdate: notAfter,
    signingKey: asKey(caK.privateKey),
    signingAlgorithm: SIG_ALG,
    entries: [{ serialNumber: SIM.revokedLeafSerial, revocationDate: notBefore }],
  });
  const sign = async (text: string): Promise<string> =>
    Buffer.from(await webcrypto.subtle.sign(SIG_ALG, tcbK.privateKey, Buffer.from(text, 'utf8'))).toString(
      'hex',
    );
  const tcbInfo = simTcbInfoJson(SIM.notBefore, SIM.notAfter);
  const qeId = simQeIdentityJson(SIM.notBefore, SIM.notAfter);
  const pem = (c: x509.X509Certificate): string => `${c.toString('pem')}\n`;
  return {
    'root.pem': pem(root),
    'pck-platform-ca.pem': pem(ca),
    'pck-leaf.pem': pem(leaf),
    'pck-leaf-revoked.pem': pem(revokedLeaf),
    'tcb-signing.pem': pem(tcb),
    'tcb-signing-chain.pem': pem(tcb) + pem(root),
    'pck-crl-issuer-chain.pem': pem(ca) + pem(root),
    'root-ca-crl.der': new Uint8Array(rootCrl.rawData),
    'pck-crl.der': new Uint8Array(pckCrl.rawData),
    [`tcbinfo-${SIM.fmspc}.json`]: `{"tcbInfo":${tcbInfo},"signature":"${await sign(tcbInfo)}"}`,
    'qe-identity.json': `{"enclaveIdentity":${qeId},"signature":"${await sign(qeId)}"}`,
    'TEST-KEY-root.key.pem': await pkcs8Pem(rootK.privateKey),
    'TEST-KEY-pck-platform-ca.key.pem': await pkcs8Pem(caK.privateKey),
    'TEST-KEY-pck-leaf.key.pem': await pkcs8Pem(leafK.privateKey),
    'TEST-KEY-tcb-signing.key.pem': await pkcs8Pem(tcbK.privateKey),
    'TEST-KEY-attestation.key.pem': await pkcs8Pem(attK.privateKey),
  };
}

const text = (f: SimFiles, name: string): string => {
  const v = f[name];
  if (v === undefined) throw new Error(`sim hierarchy file ${name} missing`);
  return typeof v === 'string' ? v : Buffer.from(v).toString('utf8');
};
const bytes = (f: SimFiles, name: string): Uint8Array => {
  const v = f[name];
  if (v === undefined) throw new Error(`sim hierarchy file ${name} missing`);
  return typeof v === 'string' ? new Uint8Array(Buffer.from(v, 'utf8')) : v;
};

/** Builds a loaded hierarchy from its files (keys parsed once; QE report signed once). */
export function simHierarchyFromFiles(files: SimFiles): SimTdxHierarchy {
  const attestationKey = createPrivateKey(text(files, 'TEST-KEY-attestation.key.pem'));
  const leafKey = createPrivateKey(text(files, 'TEST-KEY-pck-leaf.key.pem'));
  const jwk = attestationKey.export({ format: 'jwk' });
  const attestationPublicKey = new Uint8Array(
    Buffer.concat([Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]),
  );
  const qeAuthData = new Uint8Array(32).map((_, i) => i);
  const bind = createHash('sha256').update(attestationPublicKey).update(qeAuthData).digest();
  const reportData = new Uint8Array(64);
  reportData.set(bind, 0);
  const raw = new Uint8Array(384);
  raw.set(SIM.sgxComponents, 0); // cpu_svn
  raw[48] = 0x11; // attributes.flags: INIT | MODE64BIT, as real TD QEs
  raw.set(Buffer.from(SIM.qeMrSigner, 'hex'), 128);
  Buffer.from(raw.buffer).writeUInt16LE(SIM.qeIsvProdId, 256);
  Buffer.from(raw.buffer).writeUInt16LE(SIM.qeIsvSvn, 258);
  raw.set(reportData, 320);
  const qeReport = parseSgxReportBody(raw);
  const qeReportSignature = new Uint8Array(
    cryptoSign('sha256', sgxReportBodyToBytes(qeReport), { key: leafKey, dsaEncoding: 'ieee-p1363' }),
  );
  const rootPem = text(files, 'root.pem');
  const caPem = text(files, 'pck-platform-ca.pem');
  const collateral = collateralFromPcsFiles({
    tcbInfo: text(files, `tcbinfo-${SIM.fmspc}.json`),
    qeIdentity: text(files, 'qe-identity.json'),
    tcbInfoIssuerChain: text(files, 'tcb-signing-chain.pem'),
    qeIdentityIssuerChain: text(files, 'tcb-signing-chain.pem'),
    pckCrlIssuerChain: text(files, 'pck-crl-issuer-chain.pem'),
    rootCaCrl: bytes(files, 'root-ca-crl.der'),
    pckCrl: bytes(files, 'pck-crl.der'),
  });
  return {
    rootPem,
    pckChainPem: text(files, 'pck-leaf.pem') + caPem + rootPem,
    revokedPckChainPem: text(files, 'pck-leaf-revoked.pem') + caPem + rootPem,
    attestationKey,
    attestationPublicKey,
    qeReport,
    qeReportSignature,
    qeAuthData,
    collateral,
    files,
  };
}

/** File names of a sim hierarchy directory. */
export const SIM_FILE_NAMES = [
  'root.pem',
  'pck-platform-ca.pem',
  'pck-leaf.pem',
  'pck-leaf-revoked.pem',
  'tcb-signing.pem',
  'tcb-signing-chain.pem',
  'pck-crl-issuer-chain.pem',
  'root-ca-crl.der',
  'pck-crl.der',
  `tcbinfo-${SIM.fmspc}.json`,
  'qe-identity.json',
  'TEST-KEY-root.key.pem',
  'TEST-KEY-pck-platform-ca.key.pem',
  'TEST-KEY-pck-leaf.key.pem',
  'TEST-KEY-tcb-signing.key.pem',
  'TEST-KEY-attestation.key.pem',
] as const;

let cached: SimTdxHierarchy | undefined;

/** Loads the checked-in sim hierarchy from fixtures/tdx-sim/ (or `dir`), once. */
export function loadSimHierarchy(dir?: string): SimTdxHierarchy {
  if (dir === undefined && cached !== undefined) return cached;
  const base = dir ?? packagePath(SIM_FIXTURE_DIR);
  const files: Record<string, Uint8Array> = {};
  for (const n of SIM_FILE_NAMES) files[n] = new Uint8Array(readFileSync(join(base, n)));
  const h = simHierarchyFromFiles(files);
  if (dir === undefined) cached = h;
  return h;
}

/** What a sim quote should contain; unspecified fields get fixed sim defaults. */
export interface SimQuoteOptions {
  /** REPORTDATA (64 bytes). */
  readonly reportData: Uint8Array;
  /** MRCONFIGID (48 bytes); default zero. */
  readonly mrConfigId?: Uint8Array;
  /** Set TDATTRIBUTES.DEBUG; default false. */
  readonly debug?: boolean;
  /** MRTD (48 bytes); default a fixed test value. */
  readonly mrTd?: Uint8Array;
  /** RTMR0..3 (48 bytes each); default zero. */
  readonly rtmrs?: readonly Uint8Array[];
  /** TEE_TCB_SVN (16 bytes); default SIM.teeTcbSvn (UpToDate). */
  readonly teeTcbSvn?: Uint8Array;
  /** Carry the PCK leaf listed in the sim PCK CRL; default false. */
  readonly revokedLeaf?: boolean;
}

function fixed(len: number, v: Uint8Array | undefined, what: string, fill = 0): Uint8Array {
  if (v === undefined) return new Uint8Array(len).fill(fill);
  if (!(v instanceof Uint8Array) || v.length !== len) throw new TypeError(`${what} must be ${len} bytes`);
  return v.slice();
}

/**
 * Issues a sim TDX v4 quote (real layout, §1.1–§1.4) and returns it with the matching
 * collateral. Synchronous: one ECDSA signature per call.
 */
export function generateSimTdxQuote(
  opts: SimQuoteOptions,
  hierarchy: SimTdxHierarchy = loadSimHierarchy(),
): { quote: Uint8Array; collateral: TdxCollateral } {
  const td = new Uint8Array(8);
  td[3] = 0x10; // SEPT_VE_DISABLE (bit 28)
  if (opts.debug === true) td[0] = 0x01;
  const rtmrs = opts.rtmrs ?? [];
  const body: TdQuoteBody = {
    teeTcbSvn: fixed(16, opts.teeTcbSvn ?? new Uint8Array(SIM.teeTcbSvn), 'teeTcbSvn'),
    mrSeam: new Uint8Array(48).fill(0x5e),
    mrSignerSeam: new Uint8Array(48),
    seamAttributes: new Uint8Array(8),
    tdAttributes: td,
    xfam: new Uint8Array([0xe7, 0x02, 0x06, 0, 0, 0, 0, 0]),
    mrTd: fixed(48, opts.mrTd, 'mrTd', 0x7d),
    mrConfigId: fixed(48, opts.mrConfigId, 'mrConfigId'),
    mrOwner: new Uint8Array(48),
    mrOwnerConfig: new Uint8Array(48),
    rtmrs: [0, 1, 2, 3].map((i) => fixed(48, rtmrs[i], `rtmrs[${i}]`)) as unknown as TdQuoteBody['rtmrs'],
    reportData: fixed(64, opts.reportData, 'reportData'),
  };
  const header = {
    version: QUOTE_VERSION_4,
    attKeyType: ATT_KEY_TYPE_ECDSA_P256,
    teeType: TEE_TYPE_TDX,
    reserved: new Uint8Array(4),
    qeVendorId: new Uint8Array(Buffer.from(INTEL_QE_VENDOR_ID, 'hex')),
    userData: new Uint8Array(20),
  };
  const signed = signedRegionToBytes({ header, bodyType: BODY_TYPE_TDX10, body });
  const signature = new Uint8Array(
    cryptoSign('sha256', signed, { key: hierarchy.attestationKey, dsaEncoding: 'ieee-p1363' }),
  );
  const chain = opts.revokedLeaf === true ? hierarchy.revokedPckChainPem : hierarchy.pckChainPem;
  const quote = quoteToBytes({
    header,
    bodyType: BODY_TYPE_TDX10,
    body,
    signatureData: {
      signature,
      attestationKey: hierarchy.attestationPublicKey,
      certDataType: CERT_DATA_QE_REPORT,
      qeCertData: {
        qeReportRaw: sgxReportBodyToBytes(hierarchy.qeReport),
        qeReport: hierarchy.qeReport,
        qeReportSignature: hierarchy.qeReportSignature,
        qeAuthData: hierarchy.qeAuthData,
        pckCertDataType: CERT_DATA_PCK_CHAIN,
        pckCertChain: new Uint8Array(Buffer.from(chain + '\0', 'latin1')),
      },
    },
    trailing: new Uint8Array(0),
  });
  return { quote, collateral: hierarchy.collateral };
}
