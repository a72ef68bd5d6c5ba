/**
 * `cocoon policy eval|test|explain`: authoring tools over src/policy (issue 6 "Authoring
 * tools"). eval prints a query result and the rules that produced it; test runs `test_` rules
 * of `*_test.rego` files like `opa test`; explain lists the conditions that failed, with lines.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { CocoonError, isCocoonError, messageOf } from '../../common/errors.js';
import { fixedClock } from '../../common/clock.js';
import { compilePolicy, type ModuleSource, type Policy } from '../../policy/engine.js';
import { explainFailures, type FailedCondition } from '../../policy/explain.js';
import { attestationInput, producedRules } from '../../policy/trustee.js';
import { fromJSON, toJSON, type Value } from '../../policy/value.js';
import type { Evaluation } from '../../policy/eval.js';
import { EXIT, ExitCode, usageError, type CliContext } from '../context.js';

/** Options of `policy eval` and `policy explain`, as commander parses them. */
interface EvalOpts {
  policy: string[];
  input?: string;
  evidence?: string;
  tee?: string;
  data?: string;
  referenceValues?: string;
  query?: string;
  json?: boolean;
  strict?: boolean;
  at?: string;
}

function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CocoonError('ERR_COMMON_IO', `cannot read ${what} ${path}: ${messageOf(e)}`, { cause: e });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new CocoonError('ERR_POLICY_INPUT', `${what} ${path} is not JSON: ${messageOf(e)}`, { cause: e });
  }
}

function readSources(files: readonly string[]): ModuleSource[] {
  return files.map((f) => {
    try {
      return { file: f, text: readFileSync(f, 'utf8') };
    } catch (e) {
      throw new CocoonError('ERR_COMMON_IO', `cannot read policy ${f}: ${messageOf(e)}`, { cause: e });
    }
  });
}

/** Turns evidence into policy input through the attestation module (verifier claims, §7.1). */
async function evidenceInput(
  file: string,
  tee: string | undefined,
  at: string | undefined,
  ctx: CliContext,
): Promise<unknown> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new CocoonError('ERR_COMMON_IO', `cannot read evidence ${file}: ${messageOf(e)}`, { cause: e });
  }
  const att = await import('../../attestation/index.js');
  const detected =
    tee === undefined || tee === 'auto'
      ? att.detectTee(bytes)
      : { tee, evidence: att.jsonObjectOf(bytes) ?? bytes };
  let verifier;
  try {
    verifier = att.createVerifier(detected.tee);
  } catch (e) {
    throw new CocoonError('ERR_POLICY_EVIDENCE', `no verifier for TEE ${detected.tee}: ${messageOf(e)}`, {
      cause: e,
    });
  }
  const result = await verifier.verify({
    evidence: detected.evidence,
    reportData: att.expected.notProvided(),
    initDataHash: att.expected.notProvided(),
    ...(at === undefined ? {} : { clock: fixedClock(at) }),
  });
  for (const f of result.failures) ctx.err(`warning: evidence ${f.stage}: ${f.code}: ${f.message}`);
  if (Object.keys(result.claims).length === 0) {
    throw new CocoonError('ERR_POLICY_EVIDENCE', `evidence produced no claims (verdict ${result.verdict})`);
  }
  return attestationInput(detected.tee, result.claims);
}

interface Loaded {
  policy: Policy;
  input: unknown;
  data: unknown;
  rvs: Map<string, (args: Value[]) => Value> | undefined;
}

async function load(opts: EvalOpts, ctx: CliContext): Promise<Loaded> {
  if (opts.policy.length === 0) throw usageError('--policy FILE is required');
  if (opts.input !== undefined && opts.evidence !== undefined)
    throw usageError('use --input or --evidence, not both');
  const policy = compilePolicy(readSources(opts.policy));
  let input: unknown;
  if (opts.input !== undefined) input = readJsonFile(opts.input, 'input');
  else if (opts.evidence !== undefined) input = await evidenceInput(opts.evidence, opts.tee, opts.at, ctx);
  const data = opts.data === undefined ? undefined : readJsonFile(opts.data, 'data');
  let rvs: Loaded['rvs'];
  if (opts.referenceValues !== undefined) {
    const raw = readJsonFile(opts.referenceValues, 'reference values');
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new CocoonError('ERR_POLICY_INPUT', '--reference-values must be a JSON object of id → value');
    }
    const table = raw as Record<string, unknown>;
    rvs = new Map([
      [
        'query_reference_value',
        (args: Value[]): Value => {
          const id = args[0];
          return typeof id === 'string' && Object.prototype.hasOwnProperty.call(table, id)
            ? fromJSON(table[id])
            : null;
        },
      ],
    ]);
  }
  return { policy, input, data, rvs };
}

function defaultQuery(policy: Policy): string {
  const pkg = policy.compiled.modules[0]?.pkg ?? [];
  return ['data', ...pkg].join('.');
}

/** Runs the query; a single-term query yields its value, otherwise the rows' bindings. */
function runQuery(
  l: Loaded,
  query: string,
  strict: boolean,
  trace: boolean,
): { result: Value | undefined; ev: Evaluation } {
  const common = {
    input: l.input,
    data: l.data,
    strict,
    trace,
    ...(l.rvs === undefined ? {} : { extraBuiltins: l.rvs }),
  };
  const isRef = /^data(\.[A-Za-z_][A-Za-z0-9_]*|\[[^\]]+\])*$/.test(query.trim());
  if (isRef) {
    const r = l.policy.query(`__result := ${query}`, common);
    return { result: r.rows[0]?.get('__result'), ev: r.evaluation };
  }
  const r = l.policy.query(query, common);
  if (r.rows.length === 0) return { result: undefined, ev: r.evaluation };
  const rows: Value[] = r.rows.map((row) =>
    fromJSON(Object.fromEntries([...row].map(([k, v]) => [k, toJSON(v)]))),
  );
  return { result: rows, ev: r.evaluation };
}

function printError(e: unknown, json: boolean, ctx: CliContext): never {
  if (json && isCocoonError(e)) {
    ctx.out(JSON.stringify({ error: { code: e.code, message: e.message } }));
    throw new ExitCode(e.code === 'ERR_CLI_USAGE' ? EXIT.USAGE : EXIT.FAILURE);
  }
  throw e;
}

function formatCondition(c: FailedCondition): string {
  return `  ${c.file}:${c.line}:${c.col}  ${c.rule}: ${c.text}`;
}

function collectTests(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number): void => {
    if (depth > 16) return;
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      const st = statSync(p);
      if (st.isDirectory()) walk(p, depth + 1);
      else if (e.endsWith('.rego')) out.push(p);
    }
  };
  try {
    walk(dir, 0);
  } catch (e) {
    throw new CocoonError('ERR_COMMON_IO', `cannot read ${dir}: ${messageOf(e)}`, { cause: e });
  }
  return out;
}

/** Registers `cocoon policy eval|test|explain`. */
export function register(program: Command, ctx: CliContext): void {
  const group = program.command('policy').description('evaluate, test and explain Rego policies');
  const collect = (v: string, prev: string[]): string[] => [...prev, v];

  const withEvalOptions = (c: Command): Command =>
    c
      .requiredOption('--policy <file>', 'Rego module (repeatable; all are compiled together)', collect, [])
      .option('--input <file>', 'input document (JSON)')
      .option(
        '--evidence <file>',
        'a TDX quote / SNP report / KBS tee-evidence JSON, turned into input by the attestation module',
      )
      .option('--tee <name>', 'TEE of --evidence: tdx, snp, sample or auto (default auto)')
      .option('--data <file>', 'base data document (JSON object)')
      .option('--reference-values <file>', 'JSON object id → value served by query_reference_value(id)')
      .option('--query <query>', 'query (default: data.<package of the first module>)')
      .option('--strict', 'strict built-in errors (a failing built-in is an error, not undefined)')
      .option('--at <rfc3339>', 'verification time for --evidence (default now)');

  withEvalOptions(group.command('eval'))
    .description('evaluate a query and print the result and the rules that produced it')
    .option('--json', 'print {"result": …} ({} when undefined) or {"error": {code, message}}')
    .action(async (opts: EvalOpts) => {
      const json = opts.json === true;
      try {
        const l = await load(opts, ctx);
        const q = opts.query ?? defaultQuery(l.policy);
        const { result, ev } = runQuery(l, q, opts.strict === true, true);
        if (json) {
          ctx.out(JSON.stringify(result === undefined ? {} : { result: toJSON(result) }));
          return;
        }
        ctx.out(result === undefined ? 'undefined' : JSON.stringify(toJSON(result), null, 2));
        const rules = producedRules(l.policy, ev);
        ctx.out(
          rules.length === 0 ? 'rules: (none succeeded)' : `rules:\n${rules.map((r) => `  ${r}`).join('\n')}`,
        );
        for (const e of ev.errors) ctx.err(`note: ${e.message}`);
      } catch (e) {
        printError(e, json, ctx);
      }
    });

  withEvalOptions(group.command('explain'))
    .description('explain a denial: which conditions failed, with line numbers')
    .action(async (opts: EvalOpts) => {
      const l = await load(opts, ctx);
      const q = opts.query ?? `${defaultQuery(l.policy)}.allow`;
      const { result, ev } = runQuery(l, q, opts.strict === true, true);
      ctx.out(`${q} = ${result === undefined ? 'undefined' : JSON.stringify(toJSON(result))}`);
      const target = q.startsWith('data.') ? q.slice(5).split('.') : [];
      const failed = explainFailures(l.policy, ev, target);
      if (failed.length === 0) {
        ctx.out('no failed conditions');
        return;
      }
      ctx.out('failed conditions:');
      for (const c of failed) ctx.out(formatCondition(c));
    });

  group
    .command('test')
    .description('run test_ rules of *_test.rego files (with the other .rego files in DIR), like opa test')
    .argument('<dir>', 'directory of .rego files')
    .option('--json', 'print one JSON object per test')
    .action((dir: string, opts: { json?: boolean }) => {
      const files = collectTests(dir);
      const tests = files.filter((f) => basename(f).endsWith('_test.rego'));
      if (tests.length === 0) throw usageError(`no *_test.rego files under ${dir}`);
      const policy = compilePolicy(readSources(files));
      let failed = 0;
      let count = 0;
      const seen = new Set<string>();
      for (const cr of policy.compiled.allRules) {
        const name = cr.prefix[cr.prefix.length - 1] ?? '';
        if (
          !name.startsWith('test_') ||
          cr.rule.kind === 'func' ||
          !basename(cr.rule.loc.file).endsWith('_test.rego')
        )
          continue;
        if (seen.has(cr.prefix.join('.'))) continue;
        seen.add(cr.prefix.join('.'));
        count++;
        let status: 'PASS' | 'FAIL' | 'ERROR';
        let detail = '';
        try {
          const { value } = policy.evalPath(cr.prefix);
          status = value !== undefined && value !== false ? 'PASS' : 'FAIL';
        } catch (e) {
          status = 'ERROR';
          detail = isCocoonError(e) ? `${e.code}: ${e.message}` : messageOf(e);
        }
        if (status !== 'PASS') failed++;
        const where = `${cr.rule.loc.file}:${cr.rule.loc.line}`;
        if (opts.json === true)
          ctx.out(
            JSON.stringify({
              name: `data.${cr.prefix.join('.')}`,
              status,
              location: where,
              ...(detail === '' ? {} : { error: detail }),
            }),
          );
        else ctx.out(`${status} data.${cr.prefix.join('.')} (${where})${detail === '' ? '' : `: ${detail}`}`);
      }
      if (opts.json !== true) ctx.out(`${count - failed}/${count} passed`);
      if (count === 0) throw usageError(`no test_ rules under ${dir}`);
      if (failed > 0) throw new ExitCode(EXIT.FAILURE);
    });
}
