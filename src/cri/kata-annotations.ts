/**
 * Per-handler Kata sandbox annotations: initdata (cri-kata.md §3.8) for confidential handlers
 * with a KBS URL. The encoded value and its digest are computed once per handler.
 */
import type { CriHandlerConfig } from '../config/sections/cri.js';
import { encodeInitData, KATA_ANNOTATIONS } from '../kata/index.js';

/** Built-in initdata template (initdata TOML, cri-kata.md §3.8); `${kbs_url}` is substituted. */
export const DEFAULT_INITDATA_TEMPLATE = `version = "0.1.0"
algorithm = "sha384"

[data]
"aa.toml" = '''
[token_configs]
[token_configs.kbs]
url = "\${kbs_url}"
'''

"cdh.toml" = '''
[kbc]
name = "cc_kbc"
url = "\${kbs_url}"
'''
`;

const cache = new Map<string, { annotations: Record<string, string>; digest: string }>();

/** Renders a handler's initdata TOML, or undefined when it has none. */
export function renderInitData(h: CriHandlerConfig): string | undefined {
  if (!h.confidential || (h.kbsUrl === '' && h.initdataTemplate === '')) return undefined;
  const t = h.initdataTemplate === '' ? DEFAULT_INITDATA_TEMPLATE : h.initdataTemplate;
  return t.replaceAll('${kbs_url}', h.kbsUrl).replaceAll('${tee}', h.tee);
}

/** Sandbox annotations for a handler plus the initdata digest (hex) exposed for the KBS side. */
export function initDataFor(h: CriHandlerConfig): { annotations: Record<string, string>; digest: string } {
  const key = JSON.stringify(h);
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const toml = renderInitData(h);
  let out: { annotations: Record<string, string>; digest: string } = { annotations: {}, digest: '' };
  if (toml !== undefined) {
    const enc = encodeInitData(toml);
    out = {
      annotations: { [KATA_ANNOTATIONS.initData]: enc.annotation },
      digest: enc.digest.toString('hex'),
    };
  }
  cache.set(key, out);
  return out;
}

/** Just the annotations (what SandboxLaunch.extraAnnotations carries). */
export function kataAnnotationsFor(h: CriHandlerConfig): Record<string, string> {
  return initDataFor(h).annotations;
}
