/**
 * Regenerates fixtures/snp-sim/: the TEST "AMD" hierarchy used by the SEV-SNP simulator
 * (src/attestation/snp/sim.ts). Run: `node --import tsx scripts/gen-snp-sim.ts`.
 *
 * Writes TEST KEYS (test-ark.key.pem, test-ask.key.pem: RSA-4096; test-vcek.key.pem: P-384), the
 * test ARK/ASK certificates for Milan, Genoa and Turin (RSA-PSS SHA-384, salt 48, as AMD's), and
 * an example report + Trustee evidence JSON. Nothing here is trusted unless a caller passes
 * simSnpRoots() explicitly.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { SNP_PRODUCTS } from '../src/attestation/snp/abi.js';
import { toPem } from '../src/attestation/snp/certs.js';
import { buildSimCaCert, generateSimSnpReport, simDir, type SimKeys } from '../src/attestation/snp/sim.js';

const dir = simDir();
mkdirSync(dir, { recursive: true });
const rsa = () => generateKeyPairSync('rsa', { modulusLength: 4096, publicExponent: 0x10001 }).privateKey;
const keys: SimKeys = {
  ark: rsa(),
  ask: rsa(),
  vcek: generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey,
};
const header = '# TEST KEY — Cocoon SNP simulator only, never trusted by default (scripts/gen-snp-sim.ts)\n';
for (const [name, k] of Object.entries(keys)) {
  writeFileSync(
    `${dir}/test-${name}.key.pem`,
    header + (k.export({ format: 'pem', type: 'pkcs8' }) as string),
  );
}
for (const p of SNP_PRODUCTS) {
  writeFileSync(`${dir}/test-ark-${p.toLowerCase()}.pem`, toPem(buildSimCaCert('ark', p, keys)));
  writeFileSync(`${dir}/test-ask-${p.toLowerCase()}.pem`, toPem(buildSimCaCert('ask', p, keys)));
}
// Example output (derived; regenerated with the keys above). REPORT_DATA is the kbs-protocol.md
// §3.5 protocol vector digest padded to 64 bytes.
const rd = Buffer.alloc(64);
Buffer.from(
  'd4bd1841ef158d7c3904848b81d834cafb2fb888d896151632a2aa5e8c258da20f8ba11735fc30d095f10ed26e055e09',
  'hex',
).copy(rd);
const sim = generateSimSnpReport({ reportData: rd });
writeFileSync(`${dir}/example-report.bin`, sim.report);
writeFileSync(`${dir}/example-vcek.der`, sim.certChain.vcek);
writeFileSync(`${dir}/example-evidence.json`, `${JSON.stringify(sim.evidence)}\n`);
console.log(`wrote ${dir}`);
