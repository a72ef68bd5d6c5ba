/**
 * The guest-components-shaped transcript of fixtures/kbs (kbs-protocol.md §3, §3.5 vector) passes
 * the server's parsers and the sample verifier with the re-derived binding; one changed member fails.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createVerifier, expected } from '../../../src/attestation/index.js';
import { packagePath } from '../../../src/common/paths.js';
import {
  checkVersion,
  parseAttestation,
  parseChallenge,
  parseRequest,
  primaryRuntimeDigest,
  reportDataFor,
  selectedHashAlgorithm,
} from '../../../src/kbs-protocol/index.js';

interface Transcript {
  request: unknown;
  challenge: unknown;
  attestation: Record<string, Record<string, unknown>>;
}
const t = JSON.parse(
  readFileSync(packagePath('fixtures/kbs/attestation-0.4.0-sample.json'), 'utf8'),
) as Transcript;

async function verify(att: unknown, nonce: string): Promise<string> {
  const a = parseAttestation(att);
  const digest = primaryRuntimeDigest(
    nonce,
    a['runtime-data']['tee-pubkey'],
    a['tee-evidence'].additional_evidence,
  );
  const r = await createVerifier('sample').verify({
    evidence: a['tee-evidence'].primary_evidence as Record<string, unknown>,
    reportData: expected.value(reportDataFor('sample', digest)),
    initDataHash: expected.notProvided(),
  });
  return r.verdict;
}

describe('fixtures/kbs transcript', () => {
  test('pass_request_and_challenge', () => {
    const req = parseRequest(t.request);
    checkVersion(req.version);
    const ch = parseChallenge(t.challenge);
    assert.equal(selectedHashAlgorithm(ch['extra-params']), 'sha384');
  });
  test('pass_attestation_binding', async () => {
    const ch = parseChallenge(t.challenge);
    assert.equal(await verify(t.attestation, ch.nonce), 'valid');
  });
  test('fail_other_nonce', async () => {
    assert.equal(await verify(t.attestation, Buffer.alloc(32, 1).toString('base64')), 'invalid');
  });
  test('fail_additional_evidence_changed', async () => {
    const att = {
      ...t.attestation,
      'tee-evidence': { ...t.attestation['tee-evidence'], additional_evidence: '{}' },
    };
    assert.equal(await verify(att, parseChallenge(t.challenge).nonce), 'invalid');
  });
});
