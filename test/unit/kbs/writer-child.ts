/**
 * Child process of resource-store.test.ts: writes alternating 1 MiB versions of one resource
 * forever (until the parent kills it with SIGKILL), printing one line after each completed write.
 */
import { ResourceStore } from '../../../src/kbs/resource-store.js';

const dir = process.argv[2]!;
const store = new ResourceStore(dir, 4 * 1024 * 1024);
const path = { repository: 'default', type: 'key', tag: 'crash' };
const versions = [Buffer.alloc(1024 * 1024, 0x61), Buffer.alloc(1024 * 1024, 0x62)];
// Bounded: the parent kills us long before this many writes.
for (let i = 0; i < 100_000; i++) {
  await store.set(path, versions[i % 2]!);
  process.stdout.write(`${i}\n`);
}
