/**
 * The Intel SGX extension of PCK leaf certificates (OID 1.2.840.113741.1.13.1, evidence.md §1.6):
 * PPID, TCB (16 component SVNs, PCESVN, CPUSVN), PCE-ID, FMSPC, SGX type and, for Platform-CA
 * leafs, platform instance ID and configuration. Malformed or missing members yield
 * ERR_TDX_PCK_EXTENSION_INVALID.
 */
import { CocoonError } from '../../common/errors.js';
import { DER_TAG, DerReader, contents, intValue, oidToString, type DerNode } from '../x509/der.js';
import type { Certificate } from '../x509/index.js';

/** OID of the SGX extension and its members (§1.6). */
export const SGX_EXTENSION_OID = '1.2.840.113741.1.13.1';
const OID_PPID = `${SGX_EXTENSION_OID}.1`;
const OID_TCB = `${SGX_EXTENSION_OID}.2`;
const OID_PCEID = `${SGX_EXTENSION_OID}.3`;
const OID_FMSPC = `${SGX_EXTENSION_OID}.4`;
const OID_SGX_TYPE = `${SGX_EXTENSION_OID}.5`;
const OID_PLATFORM_INSTANCE_ID = `${SGX_EXTENSION_OID}.6`;
const OID_CONFIGURATION = `${SGX_EXTENSION_OID}.7`;

/** SGX type names as Trustee emits them (§3.1 `sgx_type`). */
export const SGX_TYPE_NAMES = ['Standard', 'Scalable', 'Scalable with Integrity'] as const;

/** Decoded SGX extension of a PCK leaf. */
export interface PckExtensions {
  readonly ppid: Uint8Array;
  /** SGX TCB component SVNs 1..16 (index 0..15). */
  readonly tcbComponents: readonly number[];
  readonly pceSvn: number;
  readonly cpuSvn: Uint8Array;
  readonly pceId: Uint8Array;
  readonly fmspc: Uint8Array;
  /** 0 Standard, 1 Scalable, 2 Scalable with Integrity. */
  readonly sgxType: number;
  readonly platformInstanceId?: Uint8Array;
  readonly dynamicPlatform?: boolean;
  readonly cachedKeys?: boolean;
  readonly smtEnabled?: boolean;
}

function bad(message: string): CocoonError {
  return new CocoonError('ERR_TDX_PCK_EXTENSION_INVALID', `PCK SGX extension: ${message}`, {
    details: { stage: 'verify' },
  });
}

/** Reads a SEQUENCE OF SEQUENCE { OID, value } into a map from OID to the value node. */
function members(r: DerReader, seq: DerNode): Map<string, DerNode> {
  const out = new Map<string, DerNode>();
  for (const m of r.children(seq)) {
    if (m.tag !== DER_TAG.SEQUENCE) throw bad('member is not a SEQUENCE');
    const [o, v] = r.children(m);
    if (o?.tag !== DER_TAG.OID || v === undefined) throw bad('member is not { OID, value }');
    const oid = oidToString(contents(o));
    if (out.has(oid)) throw bad(`duplicate member ${oid}`);
    out.set(oid, v);
  }
  return out;
}

function octets(m: Map<string, DerNode>, oid: string, size: number, name: string): Uint8Array {
  const n = m.get(oid);
  if (n === undefined) throw bad(`${name} missing`);
  if (n.tag !== DER_TAG.OCTET_STRING || n.end - n.contentStart !== size) {
    throw bad(`${name} must be an OCTET STRING of ${size} bytes`);
  }
  return contents(n).slice();
}

function bool(r: DerReader, m: Map<string, DerNode>, oid: string): boolean | undefined {
  const n = m.get(oid);
  if (n === undefined) return undefined;
  if (n.tag !== DER_TAG.BOOLEAN || n.end - n.contentStart !== 1) r.fail('BOOLEAN');
  return contents(n)[0] !== 0;
}

/** Decodes the SGX extension of a PCK leaf (§1.6). */
export function parsePckExtensions(leaf: Certificate): PckExtensions {
  // Parsed chains are cached (verify.ts), so the same leaf object comes back for every quote of a
  // platform: parse its extension once. Certificate objects are immutable; failures are not kept.
  const hit = parsedExtensions.get(leaf);
  if (hit !== undefined) return hit;
  const parsed = parsePckExtensionsOnce(leaf);
  parsedExtensions.set(leaf, parsed);
  return parsed;
}

const parsedExtensions = new WeakMap<Certificate, PckExtensions>();

function parsePckExtensionsOnce(leaf: Certificate): PckExtensions {
  const ext = leaf.extensions.get(SGX_EXTENSION_OID);
  if (ext === undefined) throw bad('extension 1.2.840.113741.1.13.1 is missing');
  try {
    const r = new DerReader(ext.value, 'ERR_TDX_PCK_EXTENSION_INVALID');
    const top = r.expect(0, DER_TAG.SEQUENCE, ext.value.length, 'SGX extension');
    const m = members(r, top);
    const tcbN = m.get(OID_TCB);
    if (tcbN?.tag !== DER_TAG.SEQUENCE) throw bad('TCB missing');
    const tcb = members(r, tcbN);
    const tcbComponents: number[] = [];
    for (let i = 1; i <= 16; i++) {
      const n = tcb.get(`${OID_TCB}.${i}`);
      if (n?.tag !== DER_TAG.INTEGER) throw bad(`TCB component ${i} missing`);
      const v = intValue(r, n);
      if (v > 255) throw bad(`TCB component ${i} out of range`);
      tcbComponents.push(v);
    }
    const pceN = tcb.get(`${OID_TCB}.17`);
    if (pceN?.tag !== DER_TAG.INTEGER) throw bad('PCESVN missing');
    const pceSvn = intValue(r, pceN);
    if (pceSvn > 0xffff) throw bad('PCESVN out of range');
    const cpuSvn = octets(tcb, `${OID_TCB}.18`, 16, 'CPUSVN');
    const typeN = m.get(OID_SGX_TYPE);
    if (typeN?.tag !== DER_TAG.ENUMERATED) throw bad('SGX type missing');
    const sgxType = intValue(r, typeN);
    if (sgxType > 2) throw bad(`SGX type ${sgxType} unknown`);
    const out: PckExtensions = {
      ppid: octets(m, OID_PPID, 16, 'PPID'),
      tcbComponents,
      pceSvn,
      cpuSvn,
      pceId: octets(m, OID_PCEID, 2, 'PCE-ID'),
      fmspc: octets(m, OID_FMSPC, 6, 'FMSPC'),
      sgxType,
    };
    const pid = m.has(OID_PLATFORM_INSTANCE_ID)
      ? octets(m, OID_PLATFORM_INSTANCE_ID, 16, 'platform instance ID')
      : undefined;
    const confN = m.get(OID_CONFIGURATION);
    let conf: Map<string, DerNode> | undefined;
    if (confN !== undefined) {
      if (confN.tag !== DER_TAG.SEQUENCE) throw bad('configuration is not a SEQUENCE');
      conf = members(r, confN);
    }
    return {
      ...out,
      ...(pid === undefined ? {} : { platformInstanceId: pid }),
      ...(conf === undefined
        ? {}
        : {
            dynamicPlatform: bool(r, conf, `${OID_CONFIGURATION}.1`),
            cachedKeys: bool(r, conf, `${OID_CONFIGURATION}.2`),
            smtEnabled: bool(r, conf, `${OID_CONFIGURATION}.3`),
          }),
    };
  } catch (e) {
    if (e instanceof CocoonError && e.code === 'ERR_TDX_PCK_EXTENSION_INVALID') {
      throw new CocoonError(e.code, e.message, { details: { stage: 'verify' } });
    }
    throw e;
  }
}
