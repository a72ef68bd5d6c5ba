#!/usr/bin/env node
// Builds the AF_VSOCK N-API addon (native/) with node-gyp. Missing build tools are not fatal:
// only vsock:// addresses then fail, with ERR_TRANSPORT_VSOCK_UNAVAILABLE.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const native = resolve(import.meta.dirname, '..', 'native');
if (!existsSync(resolve(native, 'binding.gyp'))) {
  console.log('build-addon: no native/binding.gyp; skipping');
  process.exit(0);
}
const gyp = resolve(import.meta.dirname, '..', 'node_modules', '.bin', 'node-gyp');
// Build against the headers of the running Node when they are installed (Debian's nodejs ships
// them under <prefix>/include/node): node-gyp would otherwise try to download them, and these
// machines reach no such host.
const prefix = resolve(dirname(process.execPath), '..');
const nodedir = existsSync(resolve(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
const r = spawnSync(gyp, ['rebuild', '--silent', ...nodedir], {
  cwd: native,
  stdio: 'inherit',
  timeout: 300_000,
});
if (r.status !== 0) {
  console.warn('build-addon: the vsock addon did not build; vsock:// addresses will be unavailable');
} else {
  console.log('build-addon: vsock addon built');
}
