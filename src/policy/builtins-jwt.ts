/**
 * The `io.jwt.*` built-ins (OPA docs, "Tokens" and "Token Signing":
 * https://www.openpolicyagent.org/docs/policy-reference/#tokens). Names, argument order, results
 * and error texts follow OPA's topdown/tokens.go; signatures are made and checked with
 * node:crypto only.
 *
 * Semantics kept from OPA:
 * - A token is JWS compact serialization with exactly three dot-separated parts; a header with
 *   "enc" is a JWE and is refused. Base64url parts may omit their padding (RFC 7515 appendix C).
 * - Verification keys are a PEM CERTIFICATE, a PEM PUBLIC KEY, a JWK or a JWKS (as a string).
 *   With a JWKS, a key whose "kid" matches the header's is the only one tried; otherwise every
 *   key is tried, skipping keys whose "alg" differs from the header's.
 * - The algorithm is fixed by the built-in (io.jwt.verify_rs256 …) or, for decode_verify, by the
 *   header, and then the key type must fit it: an RSA/EC/Ed25519 key never verifies an HS*
 *   token (no algorithm confusion) and "none" or any unlisted "alg" never verifies.
 * - io.jwt.decode_verify's time is the "time" constraint (ns) or else the evaluation's clock
 *   (BuiltinContext.nowNs, the same instant time.now_ns returns).
 */
import {
  KeyObject,
  constants,
  createHmac,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  timingSafeEqual,
  verify as cryptoVerify,
  X509Certificate,
} from 'node:crypto';
import { RObject, fromJSON, type Value } from './value.js';
import { type BuiltinContext, def, fail, marshalJSON, obj, str, typeErr } from './builtins-core.js';

// ----- token parts -------------------------------------------------------------------------

/** The three base64url parts of a compact JWS. */
interface TokenParts {
  readonly header: string;
  readonly payload: string;
  readonly signature: string;
}

/** OPA's decodeJWT: the operand must be a string with exactly three parts. */
function splitToken(v: Value): TokenParts {
  if (typeof v !== 'string') return typeErr(0, 'string', v);
  if (!v.includes('.')) fail('encoded JWT had no period separators');
  const parts = v.split('.');
  if (parts.length !== 3) fail(`encoded JWT must have 3 sections, found ${parts.length}`);
  return { header: parts[0], payload: parts[1], signature: parts[2] };
}

const B64URL = /^[A-Za-z0-9_-]$/;

/**
 * base64url.decode as OPA does it: missing padding is restored (RFC 7515 appendix C), then the
 * text is decoded strictly; errors name the offending byte like Go's encoding/base64.
 */
function b64url(s: string): Buffer {
  let t = s;
  if (!t.endsWith('=')) {
    const r = t.length % 4;
    if (r === 1) fail(`illegal base64url string: ${s}`);
    if (r === 2) t += '==';
    else if (r === 3) t += '=';
  }
  for (let i = 0; i < t.length; i++) {
    const c = t[i];
    if (B64URL.test(c)) continue;
    // Padding may only fill the last one or two places of the final quantum.
    const padOk =
      c === '=' && t.length % 4 === 0 && i >= t.length - 2 && i % 4 >= 2 && /^=+$/.test(t.slice(i));
    if (!padOk) fail(`illegal base64 data at input byte ${i}`);
    break;
  }
  if (t.length % 4 !== 0) fail(`illegal base64 data at input byte ${t.length}`);
  return Buffer.from(t, 'base64url');
}

/** Prefixes a decoding failure the way tokens.go wraps it ("JWT header had invalid encoding: …"). */
function b64part(s: string, what: string): Buffer {
  try {
    return b64url(s);
  } catch (e) {
    return fail(`JWT ${what} had invalid encoding: ${(e as Error).message}`);
  }
}

/** OPA's extractJSONObject. */
function jsonObject(text: string): RObject {
  let v: Value;
  try {
    v = fromJSON(JSON.parse(text) as unknown);
  } catch (e) {
    return fail(`invalid JSON: ${(e as Error).message}`);
  }
  if (!(v instanceof RObject)) fail('decoded JSON type was not an Object');
  return v;
}

/** The decoded JOSE header; a JWE ("enc" present) is refused (RFC 7516 section 9). */
function decodeHeader(t: TokenParts): RObject {
  const raw = b64part(t.header, 'header').toString('utf8');
  let h: RObject;
  try {
    h = jsonObject(raw);
  } catch (e) {
    return fail(`bad JWT header: ${(e as Error).message}`);
  }
  if (h.get('enc') !== undefined) fail('JWT is a JWE object, which is not supported');
  return h;
}

function signatureBytes(t: TokenParts): Buffer {
  return b64url(t.signature);
}

/** The header parameters verification looks at (OPA's parseTokenHeader). */
interface TokenHeader {
  readonly alg: string;
  readonly kid: string;
  readonly cty: string;
  readonly crit: ReadonlySet<string>;
  readonly unknown: readonly string[];
}

function parseHeader(h: RObject): TokenHeader {
  let alg = '';
  let kid = '';
  let cty = '';
  const crit = new Set<string>();
  const unknown: string[] = [];
  const text = (name: string, v: Value): string =>
    typeof v === 'string' ? v : fail(`${name}: must be a string`);
  for (const [k, v] of h.entries()) {
    if (k === 'alg') alg = text('alg', v);
    else if (k === 'kid') kid = text('kid', v);
    else if (k === 'typ') text('typ', v);
    else if (k === 'cty') cty = text('cty', v);
    else if (k === 'crit') {
      if (!Array.isArray(v)) fail('crit: must be a list');
      for (const c of v) if (typeof c === 'string') crit.add(c);
      if (crit.size === 0) fail('crit: must be a nonempty list');
    } else if (typeof k === 'string') unknown.push(k);
  }
  return { alg, kid, cty, crit, unknown };
}

/** RFC 7515 4.1.1: "alg" is required; 4.1.11: an unknown parameter listed in "crit" is fatal. */
function headerValid(h: TokenHeader): boolean {
  return h.alg !== '' && !h.unknown.some((u) => h.crit.has(u));
}

// ----- algorithms --------------------------------------------------------------------------

type AlgKind = 'hmac' | 'pkcs1' | 'pss' | 'ecdsa' | 'eddsa';

/** The JWS algorithms OPA knows (tokens.go tokenAlgorithms); nothing else signs or verifies. */
const ALGORITHMS: ReadonlyMap<string, { kind: AlgKind; hash: string | null }> = new Map([
  ['HS256', { kind: 'hmac', hash: 'sha256' }],
  ['HS384', { kind: 'hmac', hash: 'sha384' }],
  ['HS512', { kind: 'hmac', hash: 'sha512' }],
  ['RS256', { kind: 'pkcs1', hash: 'sha256' }],
  ['RS384', { kind: 'pkcs1', hash: 'sha384' }],
  ['RS512', { kind: 'pkcs1', hash: 'sha512' }],
  ['PS256', { kind: 'pss', hash: 'sha256' }],
  ['PS384', { kind: 'pss', hash: 'sha384' }],
  ['PS512', { kind: 'pss', hash: 'sha512' }],
  ['ES256', { kind: 'ecdsa', hash: 'sha256' }],
  ['ES384', { kind: 'ecdsa', hash: 'sha384' }],
  ['ES512', { kind: 'ecdsa', hash: 'sha512' }],
  ['EdDSA', { kind: 'eddsa', hash: null }],
] as const);

/** A verification (or signing) key: an asymmetric KeyObject, or the bytes of an HMAC secret. */
type JwtKey = KeyObject | Buffer;

/** The asymmetric key type each algorithm family accepts. */
function keyFits(kind: AlgKind, key: JwtKey): boolean {
  if (kind === 'hmac') return Buffer.isBuffer(key);
  if (Buffer.isBuffer(key)) return false;
  const t = key.asymmetricKeyType;
  if (kind === 'pkcs1' || kind === 'pss') return t === 'rsa';
  if (kind === 'ecdsa') return t === 'ec';
  return t === 'ed25519';
}

/** Checks `signature` over `input` with `key` under `alg`; any mismatch or failure is false. */
function verifySignature(alg: string, key: JwtKey, input: Buffer, signature: Buffer): boolean {
  const spec = ALGORITHMS.get(alg);
  if (spec === undefined || !keyFits(spec.kind, key)) return false;
  try {
    if (Buffer.isBuffer(key)) {
      const mac = createHmac(spec.hash ?? 'sha256', key)
        .update(input)
        .digest();
      return mac.length === signature.length && timingSafeEqual(mac, signature);
    }
    switch (spec.kind) {
      case 'pkcs1':
        return cryptoVerify(spec.hash, input, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
      case 'pss':
        // Go's rsa.VerifyPSS with nil options: salt length detected from the signature.
        return cryptoVerify(
          spec.hash,
          input,
          { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
          signature,
        );
      case 'ecdsa':
        // JWS ECDSA signatures are r || s (RFC 7518 3.4), not DER.
        return cryptoVerify(spec.hash, input, { key, dsaEncoding: 'ieee-p1363' }, signature);
      default:
        return cryptoVerify(null, input, key, signature);
    }
  } catch {
    return false;
  }
}

function signWith(alg: string, key: JwtKey, input: Buffer): Buffer {
  const spec = ALGORITHMS.get(alg);
  if (spec === undefined) return fail(`unknown JWS algorithm: ${alg}`);
  if (!keyFits(spec.kind, key)) fail(`failed to sign with ${alg}: the key type does not fit the algorithm`);
  try {
    if (Buffer.isBuffer(key))
      return createHmac(spec.hash ?? 'sha256', key)
        .update(input)
        .digest();
    switch (spec.kind) {
      case 'pkcs1':
        return cryptoSign(spec.hash, input, { key, padding: constants.RSA_PKCS1_PADDING });
      case 'pss':
        return cryptoSign(spec.hash, input, {
          key,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        });
      case 'ecdsa':
        return cryptoSign(spec.hash, input, { key, dsaEncoding: 'ieee-p1363' });
      default:
        return cryptoSign(null, input, key);
    }
  } catch (e) {
    return fail(`failed to sign with ${alg}: ${(e as Error).message}`);
  }
}

// ----- keys --------------------------------------------------------------------------------

/** A key from a certificate or JWK(S); `alg` and `kid` are '' when the source gives none. */
interface VerificationKey {
  readonly key: JwtKey;
  readonly alg: string;
  readonly kid: string;
}

/**
 * The first PEM block of `text` like Go's pem.Decode: BEGIN at the start of a line, matching
 * END, base64 body; `rest` is what follows the END line. Undefined when there is no valid block.
 */
function pemDecode(text: string): { type: string; der: Buffer; rest: string } | undefined {
  const re = /(?:^|\n)-----BEGIN ([^\n]*?)-----[ \t\r]*\n([\s\S]*?)-----END \1-----[ \t\r]*(?:\n|$)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const body = m[2].replace(/[ \t\r\n]/g, '');
    // Header lines ("Proc-Type: …") are not used by keys; a body that is not base64 is skipped.
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) continue;
    return { type: m[1], der: Buffer.from(body, 'base64'), rest: text.slice(m.index + m[0].length) };
  }
  return undefined;
}

function b64field(jwk: Record<string, unknown>, name: string): string {
  const v = jwk[name];
  if (typeof v !== 'string') throw new Error(`required field ${name} is missing`);
  return v;
}

/** One JWK as a key: the public half of RSA/EC/OKP keys, the bytes of an "oct" secret. */
function jwkKey(jwk: Record<string, unknown>, wantPrivate: boolean): JwtKey {
  const kty = jwk.kty;
  if (typeof kty !== 'string') throw new Error('invalid key type from JSON (missing "kty")');
  switch (kty) {
    case 'oct':
      return Buffer.from(b64field(jwk, 'k'), 'base64url');
    case 'RSA':
    case 'EC':
    case 'OKP': {
      if (wantPrivate) return createPrivateKey({ key: jwk as never, format: 'jwk' });
      const pub =
        kty === 'RSA'
          ? { kty, n: b64field(jwk, 'n'), e: b64field(jwk, 'e') }
          : kty === 'EC'
            ? { kty, crv: jwk.crv, x: b64field(jwk, 'x'), y: b64field(jwk, 'y') }
            : { kty, crv: jwk.crv, x: b64field(jwk, 'x') };
      return createPublicKey({ key: pub as never, format: 'jwk' });
    }
    default:
      throw new Error(`invalid key type from JSON (${JSON.stringify(kty)})`);
  }
}

/** A JWK or a JWKS ({"keys": [...]}) as a list of raw JWK objects. */
function jwkList(text: string): Record<string, unknown>[] {
  const isObj = (x: unknown): x is Record<string, unknown> =>
    x !== null && typeof x === 'object' && !Array.isArray(x);
  const j = JSON.parse(text) as unknown;
  if (!isObj(j)) throw new Error('a JWK or JWK set must be a JSON object');
  if (j.keys === undefined) return [j];
  if (!Array.isArray(j.keys)) throw new Error('"keys" must be an array');
  return j.keys.map((k) => {
    if (!isObj(k)) throw new Error('a JWK must be a JSON object');
    return k;
  });
}

/** OPA's getKeysFromCertOrJWK. */
function verificationKeys(text: string): VerificationKey[] {
  const block = pemDecode(text);
  if (block !== undefined) {
    if (block.rest.length > 0) fail('extra data after a PEM certificate block');
    if (block.type === 'CERTIFICATE') {
      try {
        return [{ key: new X509Certificate(block.der).publicKey, alg: '', kid: '' }];
      } catch (e) {
        return fail(`failed to parse a PEM certificate: ${(e as Error).message}`);
      }
    }
    if (block.type === 'PUBLIC KEY') {
      try {
        return [{ key: createPublicKey({ key: block.der, format: 'der', type: 'spki' }), alg: '', kid: '' }];
      } catch (e) {
        return fail(`failed to parse a PEM public key: ${(e as Error).message}`);
      }
    }
    return fail('failed to extract a Key from the PEM certificate');
  }
  const out: VerificationKey[] = [];
  try {
    for (const jwk of jwkList(text)) {
      const alg = typeof jwk.alg === 'string' ? jwk.alg : '';
      const key = jwkKey(jwk, false);
      // Keys for algorithms OPA does not know are skipped, not fatal.
      if (alg !== '' && !ALGORITHMS.has(alg)) continue;
      out.push({ key, alg, kid: typeof jwk.kid === 'string' ? jwk.kid : '' });
    }
  } catch (e) {
    return fail(`failed to parse a JWK key (set): ${(e as Error).message}`);
  }
  return out;
}

/**
 * Tries the keys as tokens.go does: a key whose kid matches the header's decides alone; else
 * any key verifies, skipping keys whose declared alg is not the one in use.
 */
function verifyWithKeys(
  keys: readonly VerificationKey[],
  kid: string,
  headerAlg: string,
  useAlg: string,
  input: Buffer,
  signature: Buffer,
): boolean {
  if (kid !== '') {
    const byKid = keys.find((k) => k.kid === kid);
    if (byKid !== undefined) return verifySignature(useAlg, byKid.key, input, signature);
  }
  return keys.some(
    (k) => (k.alg === '' || k.alg === headerAlg) && verifySignature(useAlg, k.key, input, signature),
  );
}

function signingInput(t: TokenParts): Buffer {
  return Buffer.from(`${t.header}.${t.payload}`, 'utf8');
}

// ----- io.jwt.decode -----------------------------------------------------------------------

/** Bound on nested tokens (cty "JWT") so a hostile token cannot recurse without end. */
const MAX_NESTING = 32;

/**
 * io.jwt.decode(jwt): [header, payload, signature-as-hex] without any verification. When the
 * header's cty is "JWT" the payload is itself a token (RFC 7519 5.2): surrounding quotes are
 * trimmed and it is decoded in turn, and the innermost token is the result.
 */
function decodeToken(v: Value, depth: number): Value {
  const t = splitToken(v);
  const header = decodeHeader(t);
  const payloadText = b64part(t.payload, 'payload').toString('utf8');
  if (header.get('cty') === 'JWT') {
    if (depth >= MAX_NESTING) fail('JWT nesting too deep');
    return decodeToken(payloadText.replace(/^["']+|["']+$/g, ''), depth + 1);
  }
  const payload = jsonObject(payloadText);
  const sig = b64part(t.signature, 'signature');
  return [header, payload, sig.toString('hex')];
}

def('io.jwt.decode', 1, (a) => decodeToken(a[0], 0));

// ----- io.jwt.verify_* ---------------------------------------------------------------------

/**
 * io.jwt.verify_<alg>(jwt, certificate): whether the signature verifies with the key(s) in
 * `certificate` (PEM certificate, PEM public key, JWK or JWKS) under the built-in's algorithm.
 */
function verifyAsymmetric(alg: string, a: Value[]): boolean {
  const t = splitToken(a[0]);
  const keys = verificationKeys(str(a, 1));
  const signature = signatureBytes(t);
  const header = parseHeader(decodeHeader(t));
  return verifyWithKeys(keys, header.kid, header.alg, alg, signingInput(t), signature);
}

for (const alg of ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512']) {
  def(`io.jwt.verify_${alg.toLowerCase()}`, 2, (a) => verifyAsymmetric(alg, a));
}
def('io.jwt.verify_eddsa', 2, (a) => verifyAsymmetric('EdDSA', a));

/** io.jwt.verify_hs<n>(jwt, secret): HMAC check with the secret's UTF-8 bytes. */
for (const alg of ['HS256', 'HS384', 'HS512']) {
  def(`io.jwt.verify_${alg.toLowerCase()}`, 2, (a) => {
    str(a, 0);
    const secret = Buffer.from(str(a, 1), 'utf8');
    const t = splitToken(a[0]);
    return verifySignature(alg, secret, signingInput(t), signatureBytes(t));
  });
}

// ----- io.jwt.decode_verify ----------------------------------------------------------------

/** The constraints object of io.jwt.decode_verify (OPA docs: cert, secret, alg, iss, aud, time). */
interface Constraints {
  keys: VerificationKey[] | undefined;
  secret: string;
  alg: string;
  iss: string;
  aud: string;
  /** Nanoseconds since the epoch. */
  time: number;
}

function timeFrom(v: Value): number {
  if (typeof v !== 'number') return fail('token time constraint: must be a number');
  if (v < 0) fail('token time constraint: must not be negative');
  return v;
}

function parseConstraints(o: RObject, nowNs: number): Constraints {
  const c: Constraints = { keys: undefined, secret: '', alg: '', iss: '', aud: '', time: -1 };
  const text = (name: string, v: Value): string =>
    typeof v === 'string' ? v : fail(`${name} constraint: must be a string`);
  for (const [k, v] of o.entries()) {
    switch (k) {
      case 'cert':
        c.keys = verificationKeys(text('cert', v));
        break;
      case 'secret':
        c.secret = text('secret', v);
        break;
      case 'alg':
        c.alg = text('alg', v);
        break;
      case 'iss':
        c.iss = text('iss', v);
        break;
      case 'aud':
        c.aud = text('aud', v);
        break;
      case 'time':
        c.time = timeFrom(v);
        break;
      default:
        fail(`unknown token validation constraint: ${typeof k === 'string' ? k : JSON.stringify(k)}`);
    }
  }
  if (c.time === -1) c.time = timeFrom(nowNs);
  const keySources = (c.keys !== undefined ? 1 : 0) + (c.secret !== '' ? 1 : 0);
  if (keySources > 1) fail('duplicate key constraints');
  if (keySources < 1) fail('no key constraint');
  return c;
}

function audienceOk(aud: Value, want: string): boolean {
  if (typeof aud === 'string') return aud === want;
  return Array.isArray(aud) && aud.some((x) => x === want);
}

const UNVERIFIED: Value = [false, new RObject(), new RObject()];

/**
 * io.jwt.decode_verify(jwt, constraints): [valid, header, payload]. Valid means the signature
 * verifies with the constraint's key and every claim check passes (OPA docs): "alg" if given
 * must equal the header's; "iss" if given must equal the claim; a token "aud" must contain the
 * constraint's "aud", and a constraint "aud" requires the claim; "exp" must be after and "nbf"
 * not after the constraint "time" (else the evaluation clock). Failure yields [false, {}, {}];
 * malformed tokens and constraints are errors.
 */
function decodeVerify(a: Value[], ctx: BuiltinContext): Value {
  const c = parseConstraints(obj(a, 1), ctx.nowNs);
  let tokenText: Value = a[0];
  let header: RObject | undefined;
  let payloadText = '';
  for (let depth = 0; ; depth++) {
    if (depth > MAX_NESTING) fail('JWT nesting too deep');
    const t = splitToken(tokenText);
    header = decodeHeader(t);
    const h = parseHeader(header);
    if (!headerValid(h)) return UNVERIFIED;
    if (c.alg !== '' && c.alg !== h.alg) return UNVERIFIED;
    const signature = signatureBytes(t);
    const input = signingInput(t);
    const ok =
      c.keys !== undefined
        ? verifyWithKeys(c.keys, h.kid, h.alg, h.alg, input, signature)
        : verifySignature(h.alg, Buffer.from(c.secret, 'utf8'), input, signature);
    if (!ok) return UNVERIFIED;
    payloadText = b64part(t.payload, 'payload').toString('utf8');
    // RFC 7519 7.2 step 8: a nested token is verified in turn with the same constraints.
    if (h.cty.toUpperCase() !== 'JWT') break;
    tokenText = payloadText;
  }
  const payload = jsonObject(payloadText);
  if (c.iss !== '' && payload.get('iss') !== c.iss) return UNVERIFIED;
  const aud = payload.get('aud');
  if (aud !== undefined ? !audienceOk(aud, c.aud) : c.aud !== '') return UNVERIFIED;
  const nowS = c.time / 1e9;
  const exp = payload.get('exp');
  if (exp !== undefined) {
    if (typeof exp !== 'number') fail('exp value must be a number');
    if (!(nowS < exp)) return UNVERIFIED;
  }
  const nbf = payload.get('nbf');
  if (nbf !== undefined) {
    if (typeof nbf !== 'number') fail('nbf value must be a number');
    if (nowS < nbf) return UNVERIFIED;
  }
  return [true, header, payload];
}

def('io.jwt.decode_verify', 2, decodeVerify);

// ----- io.jwt.encode_sign / encode_sign_raw ------------------------------------------------

/** Reads the "alg" header member the way OPA's encoder reports problems with it. */
function headerAlg(headers: string): string {
  const trimmed = headers.trim();
  if (trimmed === '') fail("missing or invalid 'alg' header: cannot parse JSON: cannot parse empty string");
  let parsed: unknown;
  if (trimmed.startsWith('{')) {
    try {
      parsed = JSON.parse(trimmed) as unknown;
    } catch (e) {
      return fail(`missing or invalid 'alg' header: cannot parse JSON: ${(e as Error).message}`);
    }
  }
  const alg =
    parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>).alg : undefined;
  if (alg === undefined) fail(`missing or invalid 'alg' header: jwsbb: header "alg" not found`);
  if (typeof alg !== 'string') fail(`missing or invalid 'alg' header: jwsbb: header "alg" is not a string`);
  return alg;
}

function isJSON(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * OPA's commonBuiltinJWTEncodeSign: signs base64url(headers) "." base64url(payload) with the
 * first key of the JWK (set) under the header's alg. Unless typ says otherwise (anything but
 * "JWT"), the payload must be JSON. ECDSA and RSA-PSS signatures are randomized; within one
 * evaluation the same input yields the same token (memoized in the evaluation's cache).
 */
function encodeSign(headers: string, payload: string, jwkText: string, ctx: BuiltinContext): string {
  let jwks: Record<string, unknown>[];
  try {
    jwks = jwkList(jwkText);
  } catch (e) {
    return fail(`failed to parse JWK: ${(e as Error).message}`);
  }
  if (jwks.length === 0) fail('no keys found in JWK set');
  const alg = headerAlg(headers);
  if (!ALGORITHMS.has(alg)) fail(`unknown JWS algorithm: ${alg}`);
  let typ: unknown;
  try {
    typ = (JSON.parse(headers) as Record<string, unknown>).typ;
  } catch {
    typ = undefined;
  }
  if ((typeof typ !== 'string' || typ === 'JWT') && !isJSON(payload))
    fail('type is JWT but payload is not JSON');
  const input = `${Buffer.from(headers, 'utf8').toString('base64url')}.${Buffer.from(payload, 'utf8').toString('base64url')}`;
  const memoKey = `io.jwt.encode_sign\u0000${alg}\u0000${jwkText}\u0000${input}`;
  const memo = ctx.cache.get(memoKey);
  if (typeof memo === 'string') return memo;
  let key: JwtKey;
  try {
    key = jwkKey(jwks[0], true);
  } catch (e) {
    return fail(`failed to parse JWK: ${(e as Error).message}`);
  }
  const token = `${input}.${signWith(alg, key, Buffer.from(input, 'utf8')).toString('base64url')}`;
  ctx.cache.set(memoKey, token);
  return token;
}

/** io.jwt.encode_sign(headers, payload, key): objects serialized as Go's json.Marshal does. */
def('io.jwt.encode_sign', 3, (a, ctx) =>
  encodeSign(marshalJSON(obj(a, 0)), marshalJSON(obj(a, 1)), marshalJSON(obj(a, 2)), ctx),
);

/** io.jwt.encode_sign_raw(headers, payload, key): the three JSON texts are used verbatim. */
def('io.jwt.encode_sign_raw', 3, (a, ctx) => {
  const jwk = str(a, 2);
  return encodeSign(str(a, 0), str(a, 1), jwk, ctx);
});
