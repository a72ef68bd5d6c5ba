/**
 * Every command group, in help order. A group's file exports `register(program, ctx)`.
 * Reserved groups: cri, kbs, kbs-client, attest, policy, ttrpc, up/down/demo, shim.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { register as version } from './version.js';
import { register as config } from './config.js';
import { register as ttrpc } from './ttrpc.js';
import { register as attest } from './attest.js';
import { register as kbs } from './kbs.js';
import { register as kbsClient } from './kbs-client.js';
import { register as cri } from './cri.js';
import { register as policy } from './policy.js';
import { register as up } from './up.js';
import { register as shim } from './shim.js';

export const COMMANDS: readonly ((program: Command, ctx: CliContext) => void)[] = [
  version,
  config,
  cri,
  kbs,
  kbsClient,
  attest,
  policy,
  ttrpc,
  up,
  shim,
];
