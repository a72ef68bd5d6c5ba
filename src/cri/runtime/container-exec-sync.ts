/** ExecSync through the shim (§4.4); a timeout gives DEADLINE_EXCEEDED, which the kubelet reads as "command timed out" (§1.3). */
import { CocoonError } from '../../common/errors.js';
import { forwardForeign, type UnaryRpc } from '../rpc.js';
import { invalidField, nonNegative, requireString } from '../validate.js';

/** ExecSync handler. */
export const execSync: UnaryRpc = async (d, req) => {
  const id = requireString(req, 'container_id');
  const cmd = Array.isArray(req['cmd']) ? (req['cmd'] as string[]) : [];
  if (cmd.length === 0 || cmd[0] === '') throw invalidField('cmd', 'must name a command');
  const timeout = nonNegative(req, 'timeout');
  const fwd = await forwardForeign(d, 'container', id, 'runtime', 'ExecSync', req);
  if (fwd !== undefined) return fwd;
  const run = d.runtime.execSync(id, cmd, timeout);
  let timer: NodeJS.Timeout | undefined;
  const r =
    timeout > 0
      ? await Promise.race([
          run,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new CocoonError('ERR_CRI_EXEC_TIMEOUT', `command timed out after ${timeout}s`)),
              timeout * 1000,
            );
          }),
        ]).finally(() => clearTimeout(timer))
      : await run;
  return { stdout: r.stdout.toString('base64'), stderr: r.stderr.toString('base64'), exit_code: r.exitCode };
};
