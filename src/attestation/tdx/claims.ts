/**
 * TDX claims with Trustee's names (evidence.md §3.1; TRUSTEE deps/verifier/src/tdx/claims.rs,
 * intel_dcap/claims.rs): the quote header and body as lower-case hex, TD attribute booleans,
 * report_data / init_data, platform_instance_id, the CC event log as `uefi_event_logs`, and the
 * DCAP result claims when collateral was evaluated. Nested objects, as in Trustee's golden file.
 */
import type { ClaimObject, ClaimValue } from '../claims.js';
import { hexClaim } from '../claims.js';
import { EV_NO_ACTION, eventToTrusteeJson, type CcEventLog } from '../eventlog/index.js';
import type { TdxQuote } from './abi.js';
import { SGX_TYPE_NAMES, type PckExtensions } from './pck.js';
import type { TdxVerification } from './verify.js';

/** TDATTRIBUTES bits named by Trustee (§1.3). */
export const TD_ATTR = { DEBUG: 0n, SEPT_VE_DISABLE: 28n, PKS: 30n, KL: 31n, PERFMON: 63n } as const;

/** TDATTRIBUTES as a u64. */
export function tdAttributesValue(q: TdxQuote): bigint {
  return Buffer.from(q.body.tdAttributes).readBigUInt64LE(0);
}

const bit = (v: bigint, b: bigint): boolean => ((v >> b) & 1n) === 1n;

function le16(v: number): string {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b.toString('hex');
}

function le32(v: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b.toString('hex');
}

/**
 * Parse-level claims (what Trustee's parse_tdx_claims emits): quote header/body, TD attribute
 * flags, report_data, init_data, platform_instance_id (Platform-CA PCK only) and the event log
 * (only when one was sent; EV_NO_ACTION records are informational and not listed).
 */
export function tdxQuoteClaims(q: TdxQuote, pck?: PckExtensions, log?: CcEventLog): ClaimObject {
  const b = q.body;
  const body: Record<string, ClaimValue> = {
    tcb_svn: hexClaim(b.teeTcbSvn),
    mr_seam: hexClaim(b.mrSeam),
    mrsigner_seam: hexClaim(b.mrSignerSeam),
    seam_attributes: hexClaim(b.seamAttributes),
    td_attributes: hexClaim(b.tdAttributes),
    xfam: hexClaim(b.xfam),
    mr_td: hexClaim(b.mrTd),
    mr_config_id: hexClaim(b.mrConfigId),
    mr_owner: hexClaim(b.mrOwner),
    mr_owner_config: hexClaim(b.mrOwnerConfig),
    rtmr_0: hexClaim(b.rtmrs[0]),
    rtmr_1: hexClaim(b.rtmrs[1]),
    rtmr_2: hexClaim(b.rtmrs[2]),
    rtmr_3: hexClaim(b.rtmrs[3]),
    report_data: hexClaim(b.reportData),
  };
  if (b.teeTcbSvn2 !== undefined) body['tee_tcb_svn2'] = hexClaim(b.teeTcbSvn2);
  if (b.mrServiceTd !== undefined) body['mr_servicetd'] = hexClaim(b.mrServiceTd);
  const h = q.header;
  const quote: Record<string, ClaimValue> = {
    header: {
      version: le16(h.version),
      att_key_type: le16(h.attKeyType),
      tee_type: le32(h.teeType),
      reserved: hexClaim(h.reserved),
      vendor_id: hexClaim(h.qeVendorId),
      user_data: hexClaim(h.userData),
    },
    body,
  };
  if (h.version === 5) {
    quote['type'] = le16(q.bodyType);
    quote['size'] = le32(q.signedLength - 0x36);
  }
  const attrs = tdAttributesValue(q);
  const out: Record<string, ClaimValue> = {
    quote,
    td_attributes: {
      debug: bit(attrs, TD_ATTR.DEBUG),
      septve_disable: bit(attrs, TD_ATTR.SEPT_VE_DISABLE),
      protection_keys: bit(attrs, TD_ATTR.PKS),
      key_locker: bit(attrs, TD_ATTR.KL),
      perfmon: bit(attrs, TD_ATTR.PERFMON),
    },
    report_data: hexClaim(b.reportData),
    init_data: hexClaim(b.mrConfigId),
  };
  if (pck?.platformInstanceId !== undefined) {
    // Trustee emits the 16 bytes in reverse order (checked against its golden claims file).
    out['platform_instance_id'] = hexClaim(pck.platformInstanceId.slice().reverse());
  }
  if (log !== undefined) {
    out['uefi_event_logs'] = log.events
      .filter((e) => e.type !== EV_NO_ACTION)
      .map((e) => eventToTrusteeJson(e) as unknown as ClaimObject);
  }
  return out;
}

/** DCAP result claims from a verification with collateral (§3.1). */
export function tdxDcapClaims(v: TdxVerification, tcbStatus: string): ClaimObject {
  const out: Record<string, ClaimValue> = {
    tcb_status: tcbStatus,
    platform_provider_id: hexClaim(v.pck.ppid),
    sgx_type: SGX_TYPE_NAMES[v.pck.sgxType] ?? String(v.pck.sgxType),
  };
  if (v.pck.sgxType > 0) {
    if (v.pck.dynamicPlatform !== undefined) out['is_dynamic_platform'] = v.pck.dynamicPlatform;
    if (v.pck.cachedKeys !== undefined) out['is_cached_keys'] = v.pck.cachedKeys;
    if (v.pck.smtEnabled !== undefined) out['is_smt_enabled'] = v.pck.smtEnabled;
  }
  const m = v.collateralMeta;
  if (m !== undefined && v.tcb !== undefined) {
    out['collateral_expiration_status'] = m.collateralExpirationStatus;
    out['advisory_ids'] = [...v.tcb.advisoryIds];
    if (v.tcb.tcbDate !== undefined) out['tcb_date'] = v.tcb.tcbDate;
    out['earliest_issue_date'] = m.earliestIssueDate.toISOString().replace('.000Z', 'Z');
    out['latest_issue_date'] = m.latestIssueDate.toISOString().replace('.000Z', 'Z');
    out['earliest_expiration_date'] = m.earliestExpirationDate.toISOString().replace('.000Z', 'Z');
    out['tcb_eval_num'] = m.tcbEvalNum;
    if (m.pckCrlNum !== undefined) out['pck_crl_num'] = m.pckCrlNum;
    if (m.rootCaCrlNum !== undefined) out['root_ca_crl_num'] = m.rootCaCrlNum;
  }
  return out;
}
