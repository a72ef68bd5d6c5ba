import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CocoonError } from '../../../src/common/errors.js';
import { Status } from '../../../src/common/status.js';
import { errorFromStatus, statusFromError, ttrpcStatusOf } from '../../../src/ttrpc/status.js';

describe('status mapping', () => {
  const cases = [
    {
      name: 'pass_registry_code',
      e: new CocoonError('ERR_TTRPC_DEADLINE_EXCEEDED', 'late'),
      want: { code: Status.DEADLINE_EXCEEDED, message: 'late' },
    },
    {
      name: 'pass_transport_code',
      e: new CocoonError('ERR_TRANSPORT_CONNECT_FAILED', 'down'),
      want: { code: Status.UNAVAILABLE, message: 'down' },
    },
    {
      name: 'pass_remote_status_kept',
      e: errorFromStatus({ code: 7, message: 'denied' }),
      want: { code: 7, message: 'denied' },
    },
    {
      name: 'pass_unknown_throw_is_internal',
      e: new TypeError('boom at /secret'),
      want: { code: Status.INTERNAL, message: 'internal error' },
    },
    {
      name: 'pass_string_throw_is_internal',
      e: 'boom',
      want: { code: Status.INTERNAL, message: 'internal error' },
    },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(statusFromError(c.e), c.want));

  test('pass_error_from_status_carries_details', () => {
    const e = errorFromStatus({ code: 5, message: 'no task' }, { service: 's', method: 'm' });
    assert.equal(e.code, 'ERR_TTRPC_STATUS');
    assert.deepEqual(e.details, { status: 5, statusMessage: 'no task', service: 's', method: 'm' });
    assert.match(e.message, /NOT_FOUND/);
  });

  test('fail_ttrpc_status_of_other_errors', () => {
    assert.equal(ttrpcStatusOf(new Error('x')), undefined);
    assert.equal(ttrpcStatusOf(new CocoonError('ERR_COMMON_IO', 'x')), undefined);
    assert.equal(ttrpcStatusOf(new CocoonError('ERR_TTRPC_STATUS', 'x', { details: {} })), undefined);
    assert.deepEqual(ttrpcStatusOf(new CocoonError('ERR_TTRPC_STATUS', 'x', { details: { status: 3 } })), {
      code: 3,
      message: '',
    });
  });
});
