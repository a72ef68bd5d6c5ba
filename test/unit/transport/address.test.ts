import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAddress, parseAddress, VMADDR_CID_ANY } from '../../../src/transport/index.js';
import { throwsCode } from '../../helpers/assert-code.js';

describe('parseAddress', () => {
  const pass = [
    {
      name: 'pass_unix',
      s: 'unix:///run/containerd/s/abc',
      want: { kind: 'unix', path: '/run/containerd/s/abc' },
    },
    { name: 'pass_vsock', s: 'vsock://3:1024', want: { kind: 'vsock', cid: 3, port: 1024 } },
    {
      name: 'pass_vsock_any_cid',
      s: 'vsock://-1:1024',
      want: { kind: 'vsock', cid: VMADDR_CID_ANY, port: 1024 },
    },
    {
      name: 'pass_vsock_max',
      s: 'vsock://4294967294:4294967295',
      want: { kind: 'vsock', cid: 0xfffffffe, port: 0xffffffff },
    },
    {
      name: 'pass_hvsock',
      s: 'hvsock:///run/vc/vm/abc/clh.sock:1024',
      want: { kind: 'hvsock', path: '/run/vc/vm/abc/clh.sock', port: 1024 },
    },
    {
      name: 'pass_hvsock_colon_in_path',
      s: 'hvsock:///tmp/a:b/kata.hvsock:5',
      want: { kind: 'hvsock', path: '/tmp/a:b/kata.hvsock', port: 5 },
    },
    { name: 'pass_tcp', s: 'tcp://127.0.0.1:8080', want: { kind: 'tcp', host: '127.0.0.1', port: 8080 } },
    { name: 'pass_tcp_port_0', s: 'tcp://localhost:0', want: { kind: 'tcp', host: 'localhost', port: 0 } },
    { name: 'pass_tcp_ipv6', s: 'tcp://[::1]:99', want: { kind: 'tcp', host: '::1', port: 99 } },
  ];
  for (const c of pass) {
    test(c.name, () => {
      assert.deepEqual(parseAddress(c.s), c.want);
      assert.equal(formatAddress(parseAddress(c.s)), c.s);
    });
  }
  const fail = [
    { name: 'fail_no_scheme', s: '/run/x.sock' },
    { name: 'fail_unknown_scheme', s: 'udp://1.2.3.4:5' },
    { name: 'fail_unix_relative', s: 'unix://run/x.sock' },
    { name: 'fail_unix_empty', s: 'unix://' },
    { name: 'fail_unix_nul', s: 'unix:///a\0b' },
    { name: 'fail_vsock_no_port', s: 'vsock://3' },
    { name: 'fail_vsock_port_too_big', s: 'vsock://3:4294967296' },
    { name: 'fail_vsock_cid_too_big', s: 'vsock://4294967296:1' },
    { name: 'fail_vsock_hex', s: 'vsock://0x3:1024' },
    { name: 'fail_vsock_negative_port', s: 'vsock://3:-1' },
    { name: 'fail_hvsock_no_port', s: 'hvsock:///run/x.sock' },
    { name: 'fail_hvsock_bad_port', s: 'hvsock:///run/x.sock:abc' },
    { name: 'fail_hvsock_relative', s: 'hvsock://run/x.sock:1' },
    { name: 'fail_tcp_port_too_big', s: 'tcp://127.0.0.1:65536' },
    { name: 'fail_tcp_no_port', s: 'tcp://127.0.0.1' },
    { name: 'fail_tcp_path', s: 'tcp://127.0.0.1:80/x' },
    { name: 'fail_uppercase_scheme', s: 'UNIX:///x' },
  ];
  for (const c of fail) {
    test(c.name, () => {
      const e = throwsCode(() => parseAddress(c.s), 'ERR_TRANSPORT_ADDRESS_INVALID');
      assert.equal(e.details['address'], c.s);
    });
  }
  test('pass_cid_any_formats_as_minus_one', () => {
    assert.equal(formatAddress(parseAddress('vsock://4294967295:1')), 'vsock://-1:1');
  });

  test('fail_not_a_string', () => {
    throwsCode(() => parseAddress(42 as unknown as string), 'ERR_TRANSPORT_ADDRESS_INVALID');
  });
});
