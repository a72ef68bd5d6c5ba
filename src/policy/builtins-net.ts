/**
 * The `net.cidr_*` built-ins (OPA docs, "Net": https://www.openpolicyagent.org/docs/policy-reference/#net).
 * Addresses are parsed and printed the way Go's net package does, because OPA's topdown/cidr.go
 * is built on net.ParseCIDR / net.ParseIP / IP.String: IPv4 parts without leading zeros, IPv6
 * printed per RFC 5952 (longest run of two or more zero groups becomes "::"), and an IPv4-mapped
 * IPv6 address (::ffff:a.b.c.d) treated as the IPv4 address it maps. Pure TypeScript: every
 * address is a bigint.
 */
import { RObject, RSet, type Value } from './value.js';
import { def, fail, str, typeErr } from './builtins-core.js';

/** An address: IPv4 in 32 bits or IPv6 in 128 bits. */
interface Ip {
  readonly v6: boolean;
  readonly n: bigint;
}

/** A network: its first and last address and prefix length. */
interface IpNet {
  readonly v6: boolean;
  readonly first: bigint;
  readonly last: bigint;
  readonly bits: number;
}

const V4_MAPPED = 0xffffn << 32n;
const V4_MAPPED_MASK = ((1n << 96n) - 1n) << 32n;
/** Upper bound on net.cidr_expand output (OPA has none; we refuse rather than exhaust memory). */
const MAX_EXPAND = 1n << 16n;

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0n;
  for (const p of parts) {
    // Go (>= 1.17) rejects leading zeros: "010.0.0.1" is ambiguous between octal and decimal.
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    n = (n << 8n) | BigInt(p);
  }
  return n;
}

function parseV6(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  let text = s;
  const tail = /(?:^|:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail !== null) {
    const v4 = parseV4(tail[1]);
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, text.length - tail[1].length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string): bigint[] | undefined => {
    if (h === '') return [];
    const out: bigint[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(BigInt(`0x${g}`));
    }
    return out;
  };
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  if (head === undefined || rest === undefined) return undefined;
  const total = head.length + rest.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const all = [...head, ...Array<bigint>(8 - total).fill(0n), ...rest];
  return all.reduce((a, x) => (a << 16n) | x, 0n);
}

/** net.ParseIP: an IPv4-mapped IPv6 address counts as IPv4 (Go's IP.To4). */
export function parseIp(s: string): Ip | undefined {
  if (!s.includes(':')) {
    const n = parseV4(s);
    return n === undefined ? undefined : { v6: false, n };
  }
  const n = parseV6(s);
  if (n === undefined) return undefined;
  if ((n & V4_MAPPED_MASK) === V4_MAPPED) return { v6: false, n: n & 0xffffffffn };
  return { v6: true, n };
}

/**
 * net.ParseCIDR: "addr/len" with a decimal prefix length; the network is the masked address. An
 * IPv4-mapped network with a prefix of 96 or more is the IPv4 network it maps (Go's IPNet
 * methods look at the last four bytes of such a network).
 */
export function parseCidr(s: string): IpNet | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const addr = s.slice(0, slash);
  const len = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(len)) return undefined;
  let bits = Number(len);
  let v6 = addr.includes(':');
  let n = v6 ? parseV6(addr) : parseV4(addr);
  if (n === undefined || bits > (v6 ? 128 : 32)) return undefined;
  if (v6 && bits >= 96 && (n & V4_MAPPED_MASK) === V4_MAPPED) {
    v6 = false;
    n &= 0xffffffffn;
    bits -= 96;
  }
  return netOf(v6, n, bits);
}

function netOf(v6: boolean, n: bigint, bits: number): IpNet {
  const host = BigInt((v6 ? 128 : 32) - bits);
  const first = (n >> host) << host;
  return { v6, first, last: first + (1n << host) - 1n, bits };
}

/** net.IP.String. */
export function formatIp(v6: boolean, n: bigint): string {
  if (!v6) return [24n, 16n, 8n, 0n].map((sh) => ((n >> sh) & 255n).toString()).join('.');
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952 4.2: compress the longest run (the first on a tie) of two or more zero groups.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

function cidrArg(a: Value[], i: number): IpNet {
  const s = str(a, i);
  const n = parseCidr(s);
  if (n === undefined) fail(`invalid CIDR address: ${s}`);
  return n;
}

/**
 * net.cidr_contains(cidr, cidr_or_ip): whether the second network or address lies inside the
 * first. The second operand is tried as an IP address first, then as a CIDR. Networks of
 * different families never contain each other.
 */
function cidrContains(outerText: Value, innerText: Value): boolean {
  const outer = cidrArg([outerText], 0);
  const s = str([innerText], 0);
  const ip = parseIp(s);
  const inner = ip !== undefined ? netOf(ip.v6, ip.n, ip.v6 ? 128 : 32) : parseCidr(s);
  if (inner === undefined) fail(`not a valid textual representation of an IP address or CIDR: ${s}`);
  return outer.v6 === inner.v6 && inner.first >= outer.first && inner.last <= outer.last;
}

def('net.cidr_contains', 2, (a) => {
  // Operand order as OPA checks it: the first CIDR is parsed before the second is looked at.
  cidrArg(a, 0);
  str(a, 1);
  return cidrContains(a[0], a[1]);
});

/** net.cidr_overlap is the deprecated name of net.cidr_contains. */
def('net.cidr_overlap', 2, (a) => {
  cidrArg(a, 0);
  str(a, 1);
  return cidrContains(a[0], a[1]);
});

/** net.cidr_intersects(cidr1, cidr2): whether the two networks share any address. */
def('net.cidr_intersects', 2, (a) => {
  const x = cidrArg(a, 0);
  const y = cidrArg(a, 1);
  return x.v6 === y.v6 && x.first <= y.last && y.first <= x.last;
});

/** net.cidr_is_valid(cidr): true iff net.ParseCIDR accepts it; false for non-strings. */
def('net.cidr_is_valid', 1, (a) => typeof a[0] === 'string' && parseCidr(a[0]) !== undefined);

/** net.cidr_expand(cidr): the set of every address in the network. */
def('net.cidr_expand', 1, (a) => {
  const n = cidrArg(a, 0);
  if (n.last - n.first >= MAX_EXPAND)
    fail(`CIDR range too large to expand (more than ${MAX_EXPAND} addresses)`);
  const out = new RSet();
  for (let x = n.first; x <= n.last; x++) out.add(formatIp(n.v6, x));
  return out;
});

// ----- net.cidr_contains_matches ------------------------------------------------------------

/**
 * One side of net.cidr_contains_matches: a string is its own key; an array yields (index,
 * element), a set (element, element) and an object (key, value). An element is a CIDR/IP
 * string or a non-empty array whose first item is one (the rest is caller data).
 */
function matchOperand(a: Value[], i: number): [Value, Value][] {
  const v = a[i];
  const cidrOf = (x: Value): Value => {
    if (typeof x === 'string') return x;
    if (Array.isArray(x) && x.length > 0) return x[0];
    return fail(`operand ${i + 1}: element must be string or non-empty array`);
  };
  if (typeof v === 'string') return [[v, v]];
  if (Array.isArray(v)) return v.map((x, k) => [cidrOf(x), k]);
  if (v instanceof RSet) return [...v.values()].map((x) => [cidrOf(x), x]);
  if (v instanceof RObject) return [...v.entries()].map(([k, x]) => [cidrOf(x), k]);
  return typeErr(i, 'one of {string, array, set, object}', v);
}

/**
 * net.cidr_contains_matches(cidrs, cidrs_or_ips): the set of [key1, key2] pairs where the CIDR at
 * key1 of the first operand contains the CIDR or IP at key2 of the second (OPA docs: keys are
 * array indices, set elements, object keys, or the string itself).
 */
def('net.cidr_contains_matches', 2, (a) => {
  const left = matchOperand(a, 0);
  const right = matchOperand(a, 1);
  const out = new RSet();
  for (const [c1, k1] of left) for (const [c2, k2] of right) if (cidrContains(c1, c2)) out.add([k1, k2]);
  return out;
});

// ----- net.cidr_merge -----------------------------------------------------------------------

/** A range in one 128-bit space: IPv4 lives at ::ffff:0:0/96, as in OPA's internal/cidr/merge. */
interface Range {
  first: bigint;
  last: bigint;
  /** The input's own text when the range was not merged with another (Go keeps the IPNet). */
  text: string | undefined;
}

/**
 * Go's IP.DefaultMask: the classful prefix of an IPv4 address given without a length
 * (class A /8 below 128.0.0.0, class B /16 below 192.0.0.0, /24 otherwise).
 */
function defaultPrefix(n: bigint): number {
  const top = Number(n >> 24n);
  return top < 0x80 ? 8 : top < 0xc0 ? 16 : 24;
}

function mergeElement(x: Value): Range {
  if (typeof x !== 'string') return fail('element must be string');
  const ip = parseIp(x);
  let net: IpNet;
  let text: string;
  if (ip !== undefined) {
    if (ip.v6) return fail('IPv6 invalid: needs prefix length');
    const bits = defaultPrefix(ip.n);
    net = netOf(false, ip.n, bits);
    // Go prints such an IPNet with its unmasked address.
    text = `${formatIp(false, ip.n)}/${bits}`;
  } else {
    const n = parseCidr(x);
    if (n === undefined) return fail(`invalid CIDR address: ${x}`);
    net = n;
    text = `${formatIp(n.v6, n.first)}/${n.bits}`;
  }
  const base = net.v6 ? 0n : V4_MAPPED;
  return { first: base + net.first, last: base + net.last, text };
}

/** The fewest CIDRs that cover exactly [first, last] (greedy largest aligned blocks). */
function rangeToCidrs(first: bigint, last: bigint): string[] {
  const v4 = first >= V4_MAPPED && last <= V4_MAPPED + 0xffffffffn;
  const width = v4 ? 32 : 128;
  const base = v4 ? V4_MAPPED : 0n;
  const out: string[] = [];
  let x = first - base;
  const end = last - base;
  // Each step covers at least one address and at most `width + 1` blocks per bit: bounded.
  while (x <= end) {
    let host = 0;
    while (
      host < width &&
      (x & ((1n << BigInt(host + 1)) - 1n)) === 0n &&
      x + (1n << BigInt(host + 1)) - 1n <= end
    )
      host++;
    out.push(`${formatIp(!v4, x)}/${width - host}`);
    x += 1n << BigInt(host);
  }
  return out;
}

/**
 * net.cidr_merge(addrs): the smallest list of CIDRs covering the given networks and IPv4
 * addresses, with duplicates and contained networks removed and adjacent ones joined (OPA docs;
 * algorithm after netaddr's cidr_merge, as OPA's topdown/cidr.go). Returned as a set.
 */
def('net.cidr_merge', 1, (a) => {
  const v = a[0];
  let items: Value[];
  if (Array.isArray(v)) items = v;
  else if (v instanceof RSet) items = [...v.values()];
  else return typeErr(0, 'one of {array, set}', v);
  const ranges = items.map(mergeElement);
  ranges.sort((x, y) =>
    x.last !== y.last ? (x.last < y.last ? -1 : 1) : x.first < y.first ? -1 : x.first > y.first ? 1 : 0,
  );
  for (let i = ranges.length - 1; i > 0; i--) {
    const cur = ranges[i];
    const prev = ranges[i - 1];
    const before = cur.first === 0n ? 0n : cur.first - 1n;
    if (before <= prev.last) {
      ranges[i - 1] = {
        first: prev.first < cur.first ? prev.first : cur.first,
        last: cur.last,
        text: undefined,
      };
      ranges.splice(i, 1);
    }
  }
  const out = new RSet();
  for (const r of ranges) {
    if (r.text !== undefined) out.add(r.text);
    else for (const c of rangeToCidrs(r.first, r.last)) out.add(c);
  }
  return out;
});
