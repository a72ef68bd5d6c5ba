/**
 * Denial explanations for policy authors (`cocoon policy explain`): after a traced evaluation,
 * every rule body that was entered but never completed is reported with the deepest condition it
 * reached, i.e. the literal that failed on every path, with its line and source text.
 */
import type { Policy } from './engine.js';
import type { Evaluation } from './eval.js';

/** One condition that failed. */
export interface FailedCondition {
  /** Rule path, e.g. `policy.allow`. */
  readonly rule: string;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** Source text of the failing condition's line. */
  readonly text: string;
  /** True when the rule is (under) the explained query path. */
  readonly target: boolean;
}

/**
 * Lists the failed conditions of a traced evaluation (EvalOptions.trace). Rules under `target`
 * (a data path without "data") come first; helper rules follow.
 */
export function explainFailures(
  policy: Policy,
  ev: Evaluation,
  target: readonly string[],
): FailedCondition[] {
  const reached = ev.reached;
  if (reached === undefined) return [];
  const lines = new Map(policy.sources.map((s) => [s.file, s.text.split('\n')]));
  const out: FailedCondition[] = [];
  for (const cr of policy.compiled.allRules) {
    const r = cr.rule;
    const isTarget = target.length > 0 && target.every((p, i) => cr.prefix[i] === p || i >= cr.prefix.length);
    for (const body of [r.body, ...r.elses.map((e) => e.body)]) {
      const at = reached.get(body);
      if (at === undefined || at >= body.length) continue;
      const lit = body[at];
      const text = lines.get(lit.loc.file)?.[lit.loc.line - 1]?.trim() ?? '';
      out.push({
        rule: cr.prefix.join('.'),
        file: lit.loc.file,
        line: lit.loc.line,
        col: lit.loc.col,
        text,
        target: isTarget,
      });
    }
  }
  return [...out.filter((c) => c.target), ...out.filter((c) => !c.target)];
}
