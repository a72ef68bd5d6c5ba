/**
 * Shared X.509 / CRL helpers (src/attestation/x509) on the Intel trust anchors and CRLs of
 * shared/evidence, plus the AMD RSA-PSS roots the SNP verifier relies on.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkValidity,
  crlCurrent,
  fingerprint256,
  isRevoked,
  parseCertificate,
  parseCrl,
  parsePemChain,
  verifyCertSignature,
  verifyCrlSignature,
} from '../../../../src/attestation/x509/index.js';
import { throwsCode } from '../../../helpers/assert-code.js';
import { readShared } from '../../../helpers/shared.js';

const pem = (...p: string[]): string => readShared('evidence', ...p).toString('utf8');
const [CA, ROOT] = parsePemChain(pem('intel', 'pck-crl-issuer-chain-platform.pem')) as [
  ReturnType<typeof parseCertificate>,
  ReturnType<typeof parseCertificate>,
];
const [TCB] = parsePemChain(pem('intel', 'tcb-signing-chain-2025.pem'));

describe('certificates', () => {
  test('pass_intel_root: self-signed, pinned fingerprint, DER and PEM identical, validity', () => {
    const der = parseCertificate(new Uint8Array(readShared('evidence', 'intel', 'intel-sgx-root-ca.der')));
    assert.equal(fingerprint256(der), fingerprint256(ROOT));
    assert.equal(der.subjectCn, 'Intel SGX Root CA');
    assert.ok(verifyCertSignature(ROOT, ROOT));
    assert.equal(checkValidity(ROOT, new Date('2030-01-01T00:00:00Z')), 'valid');
    assert.equal(checkValidity(ROOT, new Date('2050-01-01T00:00:00Z')), 'expired');
    assert.equal(checkValidity(ROOT, new Date('2018-01-01T00:00:00Z')), 'notYetValid');
  });

  test('pass_chain_signatures: Platform CA and TCB signing cert verify under the root, not crosswise', () => {
    assert.equal(CA.subjectCn, 'Intel SGX PCK Platform CA');
    assert.ok(verifyCertSignature(CA, ROOT));
    assert.ok(verifyCertSignature(TCB!, ROOT));
    assert.equal(verifyCertSignature(ROOT, CA), false);
    assert.equal(verifyCertSignature(TCB!, CA), false);
  });

  test('pass_amd_rsa_pss_roots: ARK self-signed and ASK under ARK (RSA-PSS SHA-384)', () => {
    const [ask, ark] = parsePemChain(pem('amd', 'gosev', 'ask_ark_milan.pem'));
    assert.ok(verifyCertSignature(ark!, ark!));
    assert.ok(verifyCertSignature(ask!, ark!));
  });

  const bad: [string, Uint8Array][] = [
    ['fail_empty', new Uint8Array(0)],
    ['fail_not_sequence', new Uint8Array([0x02, 0x01, 0x00])],
    ['fail_truncated', ROOT.der.slice(0, 100)],
    ['fail_trailing', new Uint8Array([...ROOT.der, 0])],
    ['fail_length_overflow', new Uint8Array([0x30, 0x84, 0xff, 0xff, 0xff, 0xff])],
  ];
  for (const [name, der] of bad) {
    test(name, () => {
      throwsCode(() => parseCertificate(der), 'ERR_X509_CERT_INVALID');
    });
  }
  test('fail_no_pem_block', () => {
    throwsCode(() => parsePemChain('hello'), 'ERR_X509_CERT_INVALID');
  });
});

describe('CRLs', () => {
  const pckCrl = parseCrl(
    new Uint8Array(readShared('evidence', 'tdx', 'gotdx-v4-spr-e4', 'pck-crl-platform.der')),
  );
  const rootCrl = parseCrl(
    new Uint8Array(readShared('evidence', 'tdx', 'gotdx-v4-spr-e4', 'root-ca-crl.der')),
  );

  test('pass_pck_crl: 44 entries, issued and signed by the Platform CA, window', () => {
    assert.equal(pckCrl.entries.length, 44);
    assert.equal(pckCrl.issuerCn, 'Intel SGX PCK Platform CA');
    assert.ok(verifyCrlSignature(pckCrl, CA));
    assert.equal(verifyCrlSignature(pckCrl, ROOT), false);
    assert.equal(crlCurrent(pckCrl, new Date('2023-07-01T00:00:00Z')), 'valid');
    assert.equal(crlCurrent(pckCrl, new Date('2023-07-09T00:00:00Z')), 'expired');
    assert.equal(crlCurrent(pckCrl, new Date('2023-06-01T00:00:00Z')), 'notYetValid');
    const revokedSerial = pckCrl.entries[0]!.serialHex;
    assert.ok(isRevoked(pckCrl, { ...CA, serialHex: revokedSerial }));
    assert.equal(isRevoked(pckCrl, CA), false);
  });

  test('pass_root_crl: empty, signed by the root, CRL number', () => {
    assert.equal(rootCrl.entries.length, 0);
    assert.ok(verifyCrlSignature(rootCrl, ROOT));
    assert.equal(typeof rootCrl.crlNumber, 'number');
  });

  test('pass_hex_crl_text: dcap-qvl hex DER form', () => {
    const c = JSON.parse(
      readShared('evidence', 'tdx', 'dcapqvl-uptodate', 'collateral.json').toString('utf8'),
    ) as { root_ca_crl: string };
    assert.ok(verifyCrlSignature(parseCrl(c.root_ca_crl), ROOT));
  });

  test('fail_garbage_crl', () => {
    throwsCode(() => parseCrl(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00])), 'ERR_X509_CRL_INVALID');
    throwsCode(() => parseCrl('not a crl'), 'ERR_X509_CRL_INVALID');
  });

  test('fail_tampered_crl_signature', () => {
    const d = pckCrl.der.slice();
    d[d.length - 5] ^= 1;
    assert.equal(verifyCrlSignature(parseCrl(d), CA), false);
  });
});
