/**
 * The SEV-SNP samples of shared/evidence/MANIFEST.md with the time each is pinned at (inside its
 * VEK validity) and the outcome MANIFEST states under Cocoon's default validation (debug refused,
 * VMPL 0 only). Tests read the files from shared/ (never copied into the repo).
 */
import { createHash } from 'node:crypto';
import { readShared } from '../../../helpers/shared.js';
import { pemBlocks } from '../../../../src/attestation/snp/certs.js';
import type { EvidenceCerts } from '../../../../src/attestation/snp/trustee-json.js';

/** One SNP sample. */
export interface SnpSample {
  readonly name: string;
  readonly dir: string;
  readonly report: string;
  /** VEK file (DER or PEM) and its kind; undefined for JSON evidence carrying its cert_chain. */
  readonly vek?: { readonly file: string; readonly kind: 'vcek' | 'vlek' };
  /** Pinned verification time. */
  readonly at: string;
  readonly product: 'Milan' | 'Genoa' | 'Turin';
  readonly version: number;
  /** Expected failure codes under default validation ([] = valid). */
  readonly defaultFailures: readonly string[];
  /** Extra MANIFEST facts checked on the parsed report. */
  readonly facts: Readonly<Record<string, string | number>>;
}

/** Every SNP report sample of MANIFEST.md. */
export const SNP_SAMPLES: readonly SnpSample[] = [
  {
    name: 'gosev-milan',
    dir: 'gosev-milan',
    report: 'report.bin',
    vek: { file: 'vcek.der', kind: 'vcek' },
    at: '2022-09-24T01:00:00Z', // go-sev-guest TestVerifyVcekCert
    product: 'Milan',
    version: 2,
    defaultFailures: ['ERR_SNP_DEBUG_ALLOWED'], // POLICY 0xB0000: a debug guest
    facts: { policy: '0xb0000', bl: 2, tee: 0, snp: 5, ucode: 68, fw: '1.49.3' },
  },
  {
    name: 'virtee-milan',
    dir: 'virtee-milan',
    report: 'report.bin',
    vek: { file: 'vcek.der', kind: 'vcek' },
    at: '2024-01-01T00:00:00Z',
    product: 'Milan',
    version: 2,
    defaultFailures: [],
    facts: { policy: '0x30000', bl: 3, tee: 0, snp: 8, ucode: 115, fw: '1.52.4' },
  },
  {
    name: 'trustee-milan-vcek',
    dir: 'trustee-milan-vcek',
    report: 'report.bin',
    vek: { file: 'vcek.der', kind: 'vcek' },
    at: '2024-01-01T00:00:00Z',
    product: 'Milan',
    version: 2,
    defaultFailures: [],
    facts: { policy: '0x3001f', bl: 3, tee: 0, snp: 8, ucode: 115, guestSvn: 4, currentUcode: 206 },
  },
  {
    name: 'trustee-milan-vlek',
    dir: 'trustee-milan-vlek',
    report: 'report.bin',
    vek: { file: 'vlek.der', kind: 'vlek' },
    at: '2025-06-01T00:00:00Z', // VLEK valid 2024-12-10 → 2025-12-10
    product: 'Milan',
    version: 3,
    defaultFailures: ['ERR_SNP_VMPL_NOT_ALLOWED'], // VMPL 1
    facts: { policy: '0x30000', bl: 4, tee: 0, snp: 24, ucode: 217, vmpl: 1 },
  },
  {
    name: 'trustee-genoa-e2e',
    dir: 'trustee-genoa-e2e',
    report: 'evidence.json',
    at: '2025-06-01T00:00:00Z',
    product: 'Genoa',
    version: 3,
    defaultFailures: [],
    facts: { policy: '0x30000', bl: 10, tee: 0, snp: 23, ucode: 25, fw: '1.55.40', platformInfo: '0x25' },
  },
  {
    name: 'trustee-genoa-e2e-raw',
    dir: 'trustee-genoa-e2e',
    report: 'report.bin',
    vek: { file: 'vcek.der', kind: 'vcek' },
    at: '2025-06-01T00:00:00Z',
    product: 'Genoa',
    version: 3,
    defaultFailures: [],
    facts: { policy: '0x30000', bl: 10, tee: 0, snp: 23, ucode: 25, fw: '1.55.40' },
  },
  {
    name: 'trustee-azure-milan-hcl',
    dir: 'trustee-azure-milan-hcl',
    report: 'report.bin',
    vek: { file: 'vcek.der', kind: 'vcek' },
    at: '2024-01-01T00:00:00Z',
    product: 'Milan',
    version: 2,
    defaultFailures: [],
    facts: { policy: '0x3001f' },
  },
  {
    name: 'teekit-gcp',
    dir: 'teekit-gcp',
    report: 'sev-gcp.bin',
    vek: { file: 'sev-gcp-vcek.pem', kind: 'vcek' },
    at: '2026-01-01T00:00:00Z',
    product: 'Milan',
    version: 5,
    defaultFailures: [],
    facts: {
      bl: 4,
      tee: 0,
      snp: 27,
      ucode: 222,
      fw: '1.55.35',
      vmpl: 0,
      mitVector: '0xb',
      measurement:
        'b747d55452e0b9e9079770a49e397c5e6d9573581e246da7baac4f28b5cdc5b1b6d19251b8ee600fd16a3708f58406f3',
    },
  },
  {
    name: 'teekit-gcp-reportdata',
    dir: 'teekit-gcp',
    report: 'sev-gcp-reportdata.bin',
    vek: { file: 'sev-gcp-vcek.pem', kind: 'vcek' },
    at: '2026-01-01T00:00:00Z',
    product: 'Milan',
    version: 5,
    defaultFailures: ['ERR_SNP_VMPL_NOT_ALLOWED'],
    facts: { vmpl: 1 },
  },
  {
    name: 'teekit-gcp-x25519-bound',
    dir: 'teekit-gcp',
    report: 'sev-gcp-x25519-bound.bin',
    vek: { file: 'sev-gcp-x25519-vcek.pem', kind: 'vcek' },
    at: '2026-01-01T00:00:00Z',
    product: 'Milan',
    version: 5,
    defaultFailures: ['ERR_SNP_VMPL_NOT_ALLOWED'],
    facts: { vmpl: 1 },
  },
];

/** A time at which every sample's VEK has expired (STYLE.md rule 5 "future" time). */
export const FUTURE = '2035-01-01T00:00:00Z';

/** Reads a sample's evidence bytes. */
export function sampleEvidence(s: SnpSample): Buffer {
  return readShared('evidence', 'snp', s.dir, s.report);
}

/** Reads a sample's VEK as DER. */
export function sampleVek(s: SnpSample): Uint8Array {
  const b = readShared('evidence', 'snp', s.dir, s.vek!.file);
  return s.vek!.file.endsWith('.pem') ? pemBlocks(b.toString('latin1'))[0]! : new Uint8Array(b);
}

/** Certificates to pass with a sample (empty for JSON evidence with its own cert_chain). */
export function sampleCerts(s: SnpSample): EvidenceCerts {
  return s.vek === undefined ? {} : { [s.vek.kind]: sampleVek(s) };
}

/** The x25519-bound sample's expected REPORT_DATA: SHA-512(NONCE ‖ X25519_KEY) (MANIFEST). */
export function x25519BoundReportData(): Uint8Array {
  const txt = readShared('evidence', 'snp', 'teekit-gcp', 'sev-gcp-x25519-bound.txt').toString('utf8');
  const nonce = /NONCE=([0-9a-f]+)/.exec(txt)![1]!;
  const key = /X25519_KEY=([0-9a-f]+)/.exec(txt)![1]!;
  return new Uint8Array(
    createHash('sha512')
      .update(Buffer.concat([Buffer.from(nonce, 'hex'), Buffer.from(key, 'hex')]))
      .digest(),
  );
}
