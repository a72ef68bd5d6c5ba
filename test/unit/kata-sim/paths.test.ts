import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkSocketPath,
  guestDir,
  guestDirName,
  MAX_UNIX_SOCKET_PATH,
} from '../../../src/kata/sim/paths.js';
import { throwsCode } from '../../helpers/assert-code.js';

test('guest folders are short and stable per sandbox id', () => {
  const id = 'a'.repeat(64);
  assert.equal(guestDirName(id).length, 16);
  assert.equal(guestDirName(id), guestDirName(id));
  assert.notEqual(guestDirName(id), guestDirName('b'.repeat(64)));
  // The default `cocoon up` layout leaves room for the guest's sockets.
  const dir = guestDir('/var/lib/cocoon/up/cri/shim/sim-run/vm', id);
  checkSocketPath(`${dir}/api-server-rest.sock`);
});

test('table: socket paths over the Linux limit get ERR_KATA_SIM_CONFIG_INVALID', () => {
  checkSocketPath(`/${'x'.repeat(MAX_UNIX_SOCKET_PATH - 1)}`);
  throwsCode(() => checkSocketPath(`/${'x'.repeat(MAX_UNIX_SOCKET_PATH)}`), 'ERR_KATA_SIM_CONFIG_INVALID');
  throwsCode(() => checkSocketPath(`/tmp/${'é'.repeat(60)}`), 'ERR_KATA_SIM_CONFIG_INVALID');
});
