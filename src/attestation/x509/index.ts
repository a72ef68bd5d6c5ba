/**
 * Shared X.509 and CRL helpers for the TEE verifiers (RFC 5280 §4.1 certificates, §5.1 CRLs).
 * Certificates and CRLs are sliced with the bounded DER walker of der.ts (so the exact signed
 * bytes are available), and every signature is checked synchronously with node:crypto
 * (OpenSSL), which is what keeps a full quote verification close to the cost of its raw
 * signature checks. @peculiar/x509 is used to issue test hierarchies (tdx/sim.ts).
 *
 * API (stable; the SNP verifier may import it): parsePemChain, parseCertificate,
 * verifyCertSignature(child, issuer), checkValidity(cert, at), parseCrl, verifyCrlSignature,
 * isRevoked, crlCurrent, fingerprint256, extension.
 */
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { CocoonError } from '../../common/errors.js';
import {
  DER_TAG,
  DerReader,
  contents,
  encoding,
  intValue,
  oidToString,
  timeOf,
  type DerNode,
} from './der.js';

/** Largest certificate or CRL accepted (bytes); real Intel/AMD ones are under 3 KiB. */
export const X509_MAX_BYTES = 256 * 1024;

/** Signature algorithm OIDs understood by verifySignedData (RFC 5758 §3.2, RFC 4055). */
export const SIG_ALG = {
  ECDSA_SHA256: '1.2.840.10045.4.3.2',
  ECDSA_SHA384: '1.2.840.10045.4.3.3',
  RSA_SHA256: '1.2.840.113549.1.1.11',
  RSA_SHA384: '1.2.840.113549.1.1.12',
  RSA_PSS: '1.2.840.113549.1.1.10',
} as const;

/** One extension of a certificate (RFC 5280 §4.1.2.9). */
export interface CertExtension {
  readonly critical: boolean;
  /** extnValue contents (the DER inside the OCTET STRING). */
  readonly value: Uint8Array;
}

/** A parsed certificate: the signed parts as views plus a ready public key. */
export interface Certificate {
  /** Full DER encoding. */
  readonly der: Uint8Array;
  /** tbsCertificate, exactly as signed. */
  readonly tbs: Uint8Array;
  /** X.509 version number (3 for v3). */
  readonly version: number;
  /** Serial number, lower-case hex of the INTEGER contents without leading zero bytes. */
  readonly serialHex: string;
  /** Outer signatureAlgorithm OID and its parameters' encoding (empty when absent). */
  readonly sigAlg: string;
  readonly sigAlgParams: Uint8Array;
  /** signatureValue bits (DER ECDSA-Sig-Value or RSA signature). */
  readonly signature: Uint8Array;
  /** DER of issuer and subject Names (compared byte for byte). */
  readonly issuerDer: Uint8Array;
  readonly subjectDer: Uint8Array;
  /** First commonName of the subject / issuer (empty when absent). */
  readonly subjectCn: string;
  readonly issuerCn: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** subjectPublicKeyInfo DER and the node:crypto key built from it. */
  readonly spki: Uint8Array;
  readonly publicKey: KeyObject;
  /** Extensions by OID. */
  readonly extensions: ReadonlyMap<string, CertExtension>;
}

function certError(message: string, cause?: unknown): CocoonError {
  return new CocoonError('ERR_X509_CERT_INVALID', message, cause === undefined ? {} : { cause });
}

const CN_OID = '2.5.4.3';

/** First commonName of a Name (RFC 5280 §4.1.2.4), or ''. */
function commonName(r: DerReader, name: DerNode): string {
  for (const rdn of r.children(name)) {
    for (const atv of r.children(rdn)) {
      const parts = r.children(atv);
      if (
        parts.length === 2 &&
        parts[0]!.tag === DER_TAG.OID &&
        oidToString(contents(parts[0]!)) === CN_OID
      ) {
        return Buffer.from(contents(parts[1]!)).toString('utf8');
      }
    }
  }
  return '';
}

// Parsed certificates by DER (bounded, oldest evicted). Parsing is a pure function of the bytes
// and building the node:crypto key dominates its cost, so repeated chains (every quote of a
// platform, the Intel root in every chain) are parsed once.
const CERT_CACHE_MAX = 512;
const certCache = new Map<string, Certificate>();

/** Parses one DER certificate; throws ERR_X509_CERT_INVALID when malformed. Results are cached. */
export function parseCertificate(der: Uint8Array): Certificate {
  if (der.length > X509_MAX_BYTES) throw certError(`certificate is ${der.length} bytes`);
  const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const hit = certCache.get(key);
  if (hit !== undefined) return hit;
  const cert = parseCertificateUncached(der.slice());
  if (certCache.size >= CERT_CACHE_MAX) certCache.delete(certCache.keys().next().value!);
  certCache.set(key, cert);
  return cert;
}

function parseCertificateUncached(der: Uint8Array): Certificate {
  const r = new DerReader(der, 'ERR_X509_CERT_INVALID');
  const top = r.expect(0, DER_TAG.SEQUENCE, der.length, 'Certificate');
  if (top.end !== der.length) r.fail('trailing bytes after Certificate');
  const [tbsN, algN, sigN, ...rest] = r.children(top);
  if (tbsN === undefined || algN === undefined || sigN === undefined || rest.length > 0) {
    r.fail('Certificate must have 3 members');
  }
  if (tbsN.tag !== DER_TAG.SEQUENCE || algN.tag !== DER_TAG.SEQUENCE || sigN.tag !== DER_TAG.BIT_STRING) {
    r.fail('Certificate members have wrong tags');
  }
  const alg = r.children(algN);
  if (alg[0] === undefined || alg[0].tag !== DER_TAG.OID) r.fail('signatureAlgorithm without OID');
  const sigBits = contents(sigN);
  if (sigBits.length < 1 || sigBits[0] !== 0) r.fail('signatureValue has unused bits');
  const t = r.children(tbsN);
  let i = 0;
  let version = 1;
  if (t[0]?.tag === 0xa0) {
    const v = r.children(t[0]);
    if (v[0] === undefined || v[0].tag !== DER_TAG.INTEGER) r.fail('bad version');
    version = intValue(r, v[0]) + 1;
    i = 1;
  }
  const serialN = t[i];
  const issuerN = t[i + 2];
  const validityN = t[i + 3];
  const subjectN = t[i + 4];
  const spkiN = t[i + 5];
  if (
    serialN?.tag !== DER_TAG.INTEGER ||
    t[i + 1]?.tag !== DER_TAG.SEQUENCE ||
    issuerN?.tag !== DER_TAG.SEQUENCE ||
    validityN?.tag !== DER_TAG.SEQUENCE ||
    subjectN?.tag !== DER_TAG.SEQUENCE ||
    spkiN?.tag !== DER_TAG.SEQUENCE
  ) {
    r.fail('tbsCertificate members missing or with wrong tags');
  }
  const validity = r.children(validityN);
  if (validity.length !== 2) r.fail('validity must have 2 times');
  const extensions = new Map<string, CertExtension>();
  for (const n of t.slice(i + 6)) {
    if (n.tag !== 0xa3) continue;
    const seq = r.children(n)[0];
    if (seq === undefined || seq.tag !== DER_TAG.SEQUENCE) r.fail('bad extensions');
    for (const ext of r.children(seq)) {
      const e = r.children(ext);
      if (e[0]?.tag !== DER_TAG.OID) r.fail('extension without OID');
      let critical = false;
      let valN = e[1];
      if (valN?.tag === DER_TAG.BOOLEAN) {
        critical = contents(valN)[0] !== 0;
        valN = e[2];
      }
      if (valN?.tag !== DER_TAG.OCTET_STRING) r.fail('extension without extnValue');
      const oid = oidToString(contents(e[0]));
      if (extensions.has(oid)) r.fail(`duplicate extension ${oid}`);
      extensions.set(oid, { critical, value: contents(valN) });
    }
  }
  let serial = contents(serialN);
  while (serial.length > 1 && serial[0] === 0) serial = serial.subarray(1);
  const spki = encoding(spkiN);
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (e) {
    throw certError('subjectPublicKeyInfo is not a usable public key', e);
  }
  return {
    der,
    tbs: encoding(tbsN),
    version,
    serialHex: Buffer.from(serial).toString('hex'),
    sigAlg: oidToString(contents(alg[0])),
    sigAlgParams: alg[1] === undefined ? new Uint8Array(0) : encoding(alg[1]),
    signature: sigBits.subarray(1),
    issuerDer: encoding(issuerN),
    subjectDer: encoding(subjectN),
    subjectCn: commonName(r, subjectN),
    issuerCn: commonName(r, issuerN),
    notBefore: timeOf(r, validity[0]!),
    notAfter: timeOf(r, validity[1]!),
    spki,
    publicKey,
    extensions,
  };
}

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Decodes every PEM block with the given label (default CERTIFICATE) to DER, in order. */
export function pemBlocks(text: string, label = 'CERTIFICATE'): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of text.matchAll(PEM_RE)) {
    if (m[1] !== label) continue;
    const body = m[2]!.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw certError(`PEM ${label} block is not base64`);
    out.push(new Uint8Array(Buffer.from(body, 'base64')));
  }
  return out;
}

/**
 * Parses a PEM chain (leaf first) into certificates. A single trailing NUL after the last block
 * is tolerated (evidence.md §1.4: PCK chains in quotes may end with one 0x00).
 */
export function parsePemChain(pem: string | Uint8Array): Certificate[] {
  const text = typeof pem === 'string' ? pem : Buffer.from(pem).toString('latin1');
  if (text.length > 4 * X509_MAX_BYTES) throw certError(`PEM chain is ${text.length} bytes`);
  const ders = pemBlocks(text);
  if (ders.length === 0) throw certError('no PEM CERTIFICATE block found');
  return ders.map((d) => parseCertificate(d));
}

/** Parses a certificate given as DER bytes or PEM text/bytes (first block). */
export function parseCertificateAny(input: string | Uint8Array): Certificate {
  if (typeof input !== 'string' && input[0] === DER_TAG.SEQUENCE) return parseCertificate(input);
  const chain = parsePemChain(input);
  return chain[0]!;
}

/** Hash name and padding for an X.509 signature algorithm; undefined when unsupported. */
function sigParams(
  alg: string,
  params: Uint8Array,
): { hash: string; rsaPss?: { saltLength: number } } | undefined {
  switch (alg) {
    case SIG_ALG.ECDSA_SHA256:
    case SIG_ALG.RSA_SHA256:
      return { hash: 'sha256' };
    case SIG_ALG.ECDSA_SHA384:
    case SIG_ALG.RSA_SHA384:
      return { hash: 'sha384' };
    case SIG_ALG.RSA_PSS: {
      // RSASSA-PSS-params (RFC 4055 §3.1): [0] hashAlgorithm, [2] saltLength; AMD uses SHA-384/48.
      const r = new DerReader(params, 'ERR_X509_CERT_INVALID');
      const seq = r.expect(0, DER_TAG.SEQUENCE, params.length, 'RSASSA-PSS-params');
      let hash = 'sha1';
      let saltLength = 20;
      for (const c of r.children(seq)) {
        if (c.tag === 0xa0) {
          const oidN = r.children(r.children(c)[0] ?? r.fail('hashAlgorithm'))[0];
          const oid = oidN === undefined ? '' : oidToString(contents(oidN));
          hash =
            oid === '2.16.840.1.101.3.4.2.1'
              ? 'sha256'
              : oid === '2.16.840.1.101.3.4.2.2'
                ? 'sha384'
                : oid === '2.16.840.1.101.3.4.2.3'
                  ? 'sha512'
                  : 'unsupported';
        } else if (c.tag === 0xa2) {
          const n = r.children(c)[0];
          if (n?.tag !== DER_TAG.INTEGER) r.fail('saltLength');
          saltLength = intValue(r, n);
        }
      }
      if (hash === 'unsupported') return undefined;
      return { hash, rsaPss: { saltLength } };
    }
    default:
      return undefined;
  }
}

/** Verifies `signature` over `data` with `key` under an X.509 signature algorithm. */
export function verifySignedData(
  data: Uint8Array,
  signature: Uint8Array,
  sigAlg: string,
  sigAlgParams: Uint8Array,
  key: KeyObject,
): boolean {
  const p = sigParams(sigAlg, sigAlgParams);
  if (p === undefined) return false;
  try {
    if (p.rsaPss !== undefined) {
      return cryptoVerify(
        p.hash,
        data,
        { key, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: p.rsaPss.saltLength },
        signature,
      );
    }
    return cryptoVerify(p.hash, data, key, signature);
  } catch {
    // node:crypto throws on malformed DER signatures or key/algorithm mismatch: not valid.
    return false;
  }
}

/**
 * True when `child` names `issuer` as its issuer (Name bytes equal) and its signature verifies
 * with the issuer's public key (RFC 5280 §6.1.3 (a)(1), (a)(4)).
 */
export function verifyCertSignature(child: Certificate, issuer: Certificate): boolean {
  if (!bytesEq(child.issuerDer, issuer.subjectDer)) return false;
  // Every quote carries the same PCK chain, so the same (child, issuer) pair is checked again and
  // again. A signature check is a pure function of the two certificates' bytes: remember the
  // pairs that verified (never failures), keyed by both DER digests. Validity and revocation are
  // still checked by the callers on every use.
  const memoKey = `${digestHex(child.der)}:${digestHex(issuer.der)}`;
  if (verifiedPairs.has(memoKey)) return true;
  const ok = verifySignedData(child.tbs, child.signature, child.sigAlg, child.sigAlgParams, issuer.publicKey);
  if (ok) {
    if (verifiedPairs.size >= VERIFIED_PAIRS_MAX) verifiedPairs.delete(verifiedPairs.values().next().value!);
    verifiedPairs.add(memoKey);
  }
  return ok;
}

/** Bound of the verified-signature memo of verifyCertSignature (FIFO eviction). */
export const VERIFIED_PAIRS_MAX = 4096;
const verifiedPairs = new Set<string>();

function digestHex(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/** Where `at` falls relative to the certificate validity (inclusive bounds, RFC 5280 §4.1.2.5). */
export function checkValidity(cert: Certificate, at: Date): 'valid' | 'notYetValid' | 'expired' {
  const t = at.getTime();
  if (t < cert.notBefore.getTime()) return 'notYetValid';
  if (t > cert.notAfter.getTime()) return 'expired';
  return 'valid';
}

/** SHA-256 of the certificate DER, lower-case hex. */
export function fingerprint256(cert: Certificate): string {
  return createHash('sha256').update(cert.der).digest('hex');
}

/** The extension with `oid`, or undefined. */
export function extension(cert: Certificate, oid: string): CertExtension | undefined {
  return cert.extensions.get(oid);
}

/** One revoked entry of a CRL. */
export interface CrlEntry {
  /** Serial, lower-case hex without leading zero bytes. */
  readonly serialHex: string;
  readonly revocationDate: Date;
}

/** A parsed CRL (RFC 5280 §5.1). */
export interface Crl {
  readonly der: Uint8Array;
  readonly tbs: Uint8Array;
  readonly sigAlg: string;
  readonly sigAlgParams: Uint8Array;
  readonly signature: Uint8Array;
  readonly issuerDer: Uint8Array;
  readonly issuerCn: string;
  readonly thisUpdate: Date;
  /** Absent nextUpdate is treated as stale by crlCurrent (fail closed). */
  readonly nextUpdate: Date | undefined;
  /** CRL number extension (2.5.29.20), when present. */
  readonly crlNumber: number | undefined;
  readonly revoked: ReadonlySet<string>;
  readonly entries: readonly CrlEntry[];
}

/** Parses a CRL from DER, PEM text, or hex text of the DER; throws ERR_X509_CRL_INVALID. */
export function parseCrl(input: Uint8Array | string): Crl {
  let der: Uint8Array;
  if (typeof input === 'string') {
    const blocks = pemBlocks(input, 'X509 CRL');
    if (blocks.length > 0) der = blocks[0]!;
    else if (/^[0-9a-fA-F]+$/.test(input.trim()) && input.trim().length % 2 === 0) {
      der = new Uint8Array(Buffer.from(input.trim(), 'hex'));
    } else throw new CocoonError('ERR_X509_CRL_INVALID', 'CRL text is neither PEM nor hex DER');
  } else der = input;
  if (der.length > 16 * X509_MAX_BYTES)
    throw new CocoonError('ERR_X509_CRL_INVALID', `CRL is ${der.length} bytes`);
  const r = new DerReader(der, 'ERR_X509_CRL_INVALID');
  const top = r.expect(0, DER_TAG.SEQUENCE, der.length, 'CertificateList');
  if (top.end !== der.length) r.fail('trailing bytes after CertificateList');
  const [tbsN, algN, sigN, ...rest] = r.children(top);
  if (
    tbsN?.tag !== DER_TAG.SEQUENCE ||
    algN?.tag !== DER_TAG.SEQUENCE ||
    sigN?.tag !== DER_TAG.BIT_STRING ||
    rest.length > 0
  ) {
    r.fail('CertificateList must be SEQUENCE { tbs, alg, BIT STRING }');
  }
  const alg = r.children(algN);
  if (alg[0]?.tag !== DER_TAG.OID) r.fail('signatureAlgorithm without OID');
  const sigBits = contents(sigN);
  if (sigBits.length < 1 || sigBits[0] !== 0) r.fail('signatureValue has unused bits');
  const t = r.children(tbsN);
  let i = 0;
  if (t[0]?.tag === DER_TAG.INTEGER) i = 1;
  const issuerN = t[i + 1];
  if (t[i]?.tag !== DER_TAG.SEQUENCE || issuerN?.tag !== DER_TAG.SEQUENCE) r.fail('tbsCertList issuer');
  const thisN = t[i + 2] ?? r.fail('thisUpdate missing');
  const thisUpdate = timeOf(r, thisN);
  let j = i + 3;
  let nextUpdate: Date | undefined;
  const maybeNext = t[j];
  if (
    maybeNext !== undefined &&
    (maybeNext.tag === DER_TAG.UTC_TIME || maybeNext.tag === DER_TAG.GENERALIZED_TIME)
  ) {
    nextUpdate = timeOf(r, maybeNext);
    j++;
  }
  const entries: CrlEntry[] = [];
  let crlNumber: number | undefined;
  for (const n of t.slice(j)) {
    if (n.tag === DER_TAG.SEQUENCE) {
      for (const rc of r.children(n)) {
        const f = r.children(rc);
        if (f[0]?.tag !== DER_TAG.INTEGER || f[1] === undefined) r.fail('revokedCertificates entry');
        let s = contents(f[0]);
        while (s.length > 1 && s[0] === 0) s = s.subarray(1);
        entries.push({ serialHex: Buffer.from(s).toString('hex'), revocationDate: timeOf(r, f[1]) });
      }
    } else if (n.tag === 0xa0) {
      const seq = r.children(n)[0];
      if (seq?.tag !== DER_TAG.SEQUENCE) r.fail('crlExtensions');
      for (const ext of r.children(seq)) {
        const e = r.children(ext);
        if (e[0]?.tag !== DER_TAG.OID) r.fail('CRL extension without OID');
        const val = e[e.length - 1];
        if (oidToString(contents(e[0])) === '2.5.29.20' && val?.tag === DER_TAG.OCTET_STRING) {
          const inner = new DerReader(contents(val), 'ERR_X509_CRL_INVALID');
          const num = inner.expect(0, DER_TAG.INTEGER, contents(val).length, 'CRLNumber');
          crlNumber = intValue(inner, num);
        }
      }
    } else {
      r.fail(`unexpected member tag 0x${n.tag.toString(16)} in tbsCertList`);
    }
  }
  return {
    der,
    tbs: encoding(tbsN),
    sigAlg: oidToString(contents(alg[0])),
    sigAlgParams: alg[1] === undefined ? new Uint8Array(0) : encoding(alg[1]),
    signature: sigBits.subarray(1),
    issuerDer: encoding(issuerN),
    issuerCn: commonName(r, issuerN),
    thisUpdate,
    nextUpdate,
    crlNumber,
    revoked: new Set(entries.map((e) => e.serialHex)),
    entries,
  };
}

/** True when the CRL names `issuer` and its signature verifies with the issuer key. */
export function verifyCrlSignature(crl: Crl, issuer: Certificate): boolean {
  if (!bytesEq(crl.issuerDer, issuer.subjectDer)) return false;
  return verifySignedData(crl.tbs, crl.signature, crl.sigAlg, crl.sigAlgParams, issuer.publicKey);
}

/** True when `cert`'s serial is listed in the CRL (the caller checks the CRL issuer). */
export function isRevoked(crl: Crl, cert: Certificate): boolean {
  return crl.revoked.has(cert.serialHex);
}

/** Where `at` falls relative to thisUpdate..nextUpdate; no nextUpdate counts as expired. */
export function crlCurrent(crl: Crl, at: Date): 'valid' | 'notYetValid' | 'expired' {
  const t = at.getTime();
  if (t < crl.thisUpdate.getTime()) return 'notYetValid';
  if (crl.nextUpdate === undefined || t > crl.nextUpdate.getTime()) return 'expired';
  return 'valid';
}

/** Byte equality of two arrays (public data; no constant-time need). */
export function bytesEq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
