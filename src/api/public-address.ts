import ipaddr from 'ipaddr.js';

/**
 * Which addresses a client-chosen URL may reach: only globally routable unicast ones. IPv6 has
 * several ways to carry an IPv4 address inside it, and a packet to such an address ends up at (or is
 * translated to) that IPv4 host; each is judged by the IPv4 address it carries, or by every one it
 * carries, so `[::127.0.0.1]` is loopback and `[2002:0a00:0001::]` is the private 10.0.0.1.
 */

/** Every IPv4 address an IPv6 address carries, with where it sits. */
interface Embedding {
  /** The prefix (ipaddr's parsed form and length) and how to read the IPv4 addresses inside. */
  prefix: [ipaddr.IPv6, number];
  read: (parts: number[]) => number[][];
}

/** An IPv4 address from two 16-bit groups. */
function v4(high: number, low: number): number[] {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff];
}

const at = (text: string, bits: number): [ipaddr.IPv6, number] => [ipaddr.IPv6.parse(text), bits];

const EMBEDDINGS: Embedding[] = [
  // IPv4-mapped ::ffff:a.b.c.d (RFC 4291), what a dual-stack socket shows for an IPv4 peer.
  { prefix: at('::ffff:0:0', 96), read: (p) => [v4(p[6]!, p[7]!)] },
  // IPv4-translated ::ffff:0:a.b.c.d (SIIT, RFC 6145).
  { prefix: at('::ffff:0:0:0', 96), read: (p) => [v4(p[6]!, p[7]!)] },
  // NAT64's well-known prefix 64:ff9b::a.b.c.d (RFC 6052): the gateway connects to a.b.c.d.
  { prefix: at('64:ff9b::', 96), read: (p) => [v4(p[6]!, p[7]!)] },
  // 6to4 2002:AABB:CCDD::/48 (RFC 3056): the relay forwards to AA.BB.CC.DD.
  { prefix: at('2002::', 16), read: (p) => [v4(p[1]!, p[2]!)] },
  // Teredo 2001:0:SSSS:SSSS:flags:port:CCCC:CCCC (RFC 4380): the server, and the client with its
  // bits inverted; both are judged.
  {
    prefix: at('2001::', 32),
    read: (p) => [v4(p[2]!, p[3]!), v4(p[6]! ^ 0xffff, p[7]! ^ 0xffff)],
  },
  // IPv4-compatible ::a.b.c.d (RFC 4291, deprecated; Linux still routes some of it). Last, since
  // :: and ::1 fall in it too and are judged as themselves below.
  { prefix: at('::', 96), read: (p) => [v4(p[6]!, p[7]!)] },
];

/**
 * NAT64 local-use prefixes (RFC 8215) may carry the IPv4 address at several offsets; never public.
 */
const LOCAL_NAT64: [ipaddr.IPv6, number] = at('64:ff9b:1::', 48);

/** ISATAP interface ids (…:0:5efe:a.b.c.d, …:200:5efe:a.b.c.d) name an IPv4 tunnel end point. */
function isatapIPv4(parts: number[]): number[] | undefined {
  if ((parts[4] === 0 || parts[4] === 0x200) && parts[5] === 0x5efe) return v4(parts[6]!, parts[7]!);
  return undefined;
}

/** The IPv4 addresses `address` carries; empty when it carries none. */
export function embeddedIPv4(address: ipaddr.IPv6): ipaddr.IPv4[] {
  const parts = address.parts;
  const range = address.range();
  if (range === 'unspecified' || range === 'loopback') return [];
  for (const { prefix, read } of EMBEDDINGS) {
    if (address.match(prefix)) return read(parts).map((octets) => new ipaddr.IPv4(octets));
  }
  const isatap = isatapIPv4(parts);
  return isatap ? [new ipaddr.IPv4(isatap)] : [];
}

/** True only for globally routable unicast addresses, IPv6 judged by any IPv4 address inside it. */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv4') return parsed.range() === 'unicast';
  const v6 = parsed as ipaddr.IPv6;
  if (v6.match(LOCAL_NAT64)) return false;
  const inside = embeddedIPv4(v6);
  if (inside.length > 0) {
    if (!inside.every((ip) => ip.range() === 'unicast')) return false;
    // ISATAP sits in an ordinary prefix: the prefix must be public as well.
    return isatapIPv4(v6.parts) === undefined || v6.range() === 'unicast';
  }
  return v6.range() === 'unicast';
}
