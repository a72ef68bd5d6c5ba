/** Every configuration section. A module adds its own section file here (one line each). */
import type { ConfigSection } from '../schema.js';
import { logSection } from './log.js';

export const SECTIONS: readonly ConfigSection<unknown>[] = [logSection];
