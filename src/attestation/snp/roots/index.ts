/**
 * The embedded AMD roots per product (evidence.md §2.4, §2.5 step 2): verification pins these and
 * never trusts an ARK supplied with the evidence unless it is byte-identical to the pinned one.
 */
import type { SnpProduct } from '../abi.js';
import { ARK_GENOA_PEM, ASK_GENOA_PEM, ASVK_GENOA_PEM } from './genoa.js';
import { ARK_MILAN_PEM, ASK_MILAN_PEM, ASVK_MILAN_PEM } from './milan.js';
import { ARK_TURIN_PEM, ASK_TURIN_PEM, ASVK_TURIN_PEM } from './turin.js';

/** PEM text of one product's ARK, ASK and ASVK. */
export interface ProductRootsPem {
  readonly ark: string;
  readonly ask: string;
  readonly asvk: string;
}

/** AMD's published roots for Milan, Genoa and Turin. */
export const AMD_ROOTS_PEM: Readonly<Record<SnpProduct, ProductRootsPem>> = {
  Milan: { ark: ARK_MILAN_PEM, ask: ASK_MILAN_PEM, asvk: ASVK_MILAN_PEM },
  Genoa: { ark: ARK_GENOA_PEM, ask: ASK_GENOA_PEM, asvk: ASVK_GENOA_PEM },
  Turin: { ark: ARK_TURIN_PEM, ask: ASK_TURIN_PEM, asvk: ASVK_TURIN_PEM },
};
