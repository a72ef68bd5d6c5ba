/**
 * Child process for the store crash test: pulls COCOON_TEST_REF into COCOON_TEST_STORE and
 * prints `start` before and `done` after, so the parent can SIGKILL it mid-pull.
 */
import { ImageStore } from '../../../../src/oci/image-store.js';

const store = new ImageStore(process.env['COCOON_TEST_STORE']!);
await store.open();
process.stdout.write('start\n');
await store.pull(process.env['COCOON_TEST_REF']!);
process.stdout.write('done\n');
