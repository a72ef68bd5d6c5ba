/** Every configuration section. A module adds its own section file here (one line each). */
import type { ConfigSection } from '../schema.js';
import { logSection } from './log.js';
import { kbsSection } from './kbs.js';
import { criSection } from './cri.js';

export const SECTIONS: readonly ConfigSection<unknown>[] = [logSection, criSection, kbsSection];
