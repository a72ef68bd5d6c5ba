/** Error codes of `src/policy`. See src/common/errors.ts for the conventions. */
import type { ErrorCodeTable } from '../common/errors.js';
import { Status } from '../common/status.js';

/** The ERR_POLICY_* codes with their canonical and HTTP statuses. */
export const POLICY_ERROR_CODES = {
  ERR_POLICY_PARSE: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'a Rego module or query has a syntax error (details carry line and column)',
  },
  ERR_POLICY_COMPILE: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'a Rego module does not compile (unsafe variable, unknown function, bad rule, arity)',
  },
  ERR_POLICY_CONFLICT: {
    status: Status.FAILED_PRECONDITION,
    http: 500,
    description: 'eval_conflict_error: a complete rule, function or object key produced several outputs',
  },
  ERR_POLICY_TYPE: {
    status: Status.INVALID_ARGUMENT,
    http: 500,
    description: 'eval_type_error: a built-in received an operand of the wrong type (strict mode)',
  },
  ERR_POLICY_BUILTIN: {
    status: Status.INVALID_ARGUMENT,
    http: 500,
    description: 'eval_builtin_error: a built-in failed on its operands (strict mode)',
  },
  ERR_POLICY_LIMIT: {
    status: Status.RESOURCE_EXHAUSTED,
    http: 500,
    description: 'evaluation exceeded its step or time limit',
  },
  ERR_POLICY_INPUT: {
    status: Status.INVALID_ARGUMENT,
    http: 400,
    description: 'policy input, data or reference values are not JSON values',
  },
  ERR_POLICY_RESULT: {
    status: Status.FAILED_PRECONDITION,
    http: 500,
    description: 'a policy result does not have the shape its caller requires (trust claims, allow)',
  },
  ERR_POLICY_EVIDENCE: {
    status: Status.FAILED_PRECONDITION,
    http: 400,
    description: 'evidence could not be turned into policy input (no verifier, or it failed)',
  },
} as const satisfies ErrorCodeTable;

/** A policy error code. */
export type PolicyErrorCode = keyof typeof POLICY_ERROR_CODES;
