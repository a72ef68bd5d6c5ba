/**
 * One seeded edit of a JSON tree, for mutation tests of policies and claims: walk down from the
 * root (into an object or array member with probability `descend`, at most `maxDepth` levels),
 * then replace the member reached by one of `choices`, or delete it when the choice is
 * `undefined` (array elements become null instead, so indices stay put).
 */
export interface MemberMutation {
  readonly maxDepth: number;
  readonly descend: number;
  readonly choices: readonly unknown[];
}

/** Applies one mutation in place; a tree without members is left as it is. */
export function mutateMember(doc: Record<string, unknown>, rnd: () => number, m: MemberMutation): void {
  let node: unknown = doc;
  for (let depth = 0; depth < m.maxDepth; depth++) {
    const keys = node !== null && typeof node === 'object' ? Object.keys(node) : [];
    if (keys.length === 0) return;
    const k = keys[Math.floor(rnd() * keys.length)]!;
    const child = (node as Record<string, unknown>)[k];
    if (child !== null && typeof child === 'object' && rnd() < m.descend) {
      node = child;
      continue;
    }
    const v = m.choices[Math.floor(rnd() * m.choices.length)];
    if (Array.isArray(node)) (node as unknown[])[Number(k)] = v ?? null;
    else if (v === undefined) delete (node as Record<string, unknown>)[k];
    else (node as Record<string, unknown>)[k] = v;
    return;
  }
}
