/** RestorePod (unreleased master API): there is never a checkpoint to restore (docs/cri.md). */
import { unimplemented, type UnaryRpc } from '../rpc.js';

/** RestorePod handler. */
export const restorePod: UnaryRpc = async () => {
  throw unimplemented('RestorePod', 'pod checkpoints cannot be made, so none can be restored');
};
