/**
 * CC event log module: parsing (ccel.ts), Trustee-shaped JSON (details.ts) and RTMR replay.
 * See evidence.md §1.11.
 */
export * from './ccel.js';
export * from './details.js';
