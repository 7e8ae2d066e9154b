import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { embeddedIPv4, isPublicAddress } from '../../src/api/public-address.ts';
import { parseOutboundUrl, resolveAllowed, SafeFetchError } from '../../src/api/safe-fetch.ts';

/**
 * Every way an IPv6 address carries an IPv4 one is judged by the IPv4 address inside: the loopback,
 * private and metadata addresses behind each form are refused, the public ones behind it allowed.
 */

// [form, address, the IPv4 addresses inside, public?]
const TABLE: [string, string, string[], boolean][] = [
  ['plain IPv4 loopback', '127.0.0.1', [], false],
  ['plain IPv4 public', '8.8.8.8', [], true],
  ['IPv6 loopback', '::1', [], false],
  ['IPv6 unspecified', '::', [], false],
  ['IPv6 public', '2606:4700::1111', [], true],
  ['IPv4-compatible loopback (dotted)', '::127.0.0.1', ['127.0.0.1'], false],
  ['IPv4-compatible loopback (hex)', '::7f00:1', ['127.0.0.1'], false],
  ['IPv4-compatible private', '::10.0.0.1', ['10.0.0.1'], false],
  ['IPv4-compatible metadata', '::169.254.169.254', ['169.254.169.254'], false],
  ['IPv4-compatible public', '::8.8.8.8', ['8.8.8.8'], true],
  ['IPv4-mapped loopback', '::ffff:127.0.0.1', ['127.0.0.1'], false],
  ['IPv4-mapped private (hex)', '::ffff:a00:1', ['10.0.0.1'], false],
  ['IPv4-mapped public', '::ffff:8.8.8.8', ['8.8.8.8'], true],
  ['IPv4-translated (SIIT) loopback', '::ffff:0:127.0.0.1', ['127.0.0.1'], false],
  ['IPv4-translated (SIIT) public', '::ffff:0:8.8.8.8', ['8.8.8.8'], true],
  ['NAT64 well-known loopback', '64:ff9b::127.0.0.1', ['127.0.0.1'], false],
  ['NAT64 well-known private', '64:ff9b::a00:1', ['10.0.0.1'], false],
  ['NAT64 well-known metadata', '64:ff9b::a9fe:a9fe', ['169.254.169.254'], false],
  ['NAT64 well-known public', '64:ff9b::808:808', ['8.8.8.8'], true],
  ['NAT64 local-use (RFC 8215)', '64:ff9b:1::808:808', [], false],
  ['6to4 loopback', '2002:7f00:1::1', ['127.0.0.1'], false],
  ['6to4 private', '2002:c0a8:101::', ['192.168.1.1'], false],
  ['6to4 metadata', '2002:a9fe:a9fe::1', ['169.254.169.254'], false],
  ['6to4 public', '2002:808:808::1', ['8.8.8.8'], true],
  // Teredo: server 65.54.227.120 (public), client bits inverted.
  ['Teredo client loopback', '2001:0:4136:e378:8000:63bf:80ff:fffe', ['65.54.227.120', '127.0.0.1'], false],
  ['Teredo server private', '2001:0:a00:1:8000:63bf:f7f7:f7f7', ['10.0.0.1', '8.8.8.8'], false],
  ['Teredo both public', '2001:0:4136:e378:8000:63bf:f7f7:f7f7', ['65.54.227.120', '8.8.8.8'], true],
  ['ISATAP private end point', '2606:4700::5efe:a00:1', ['10.0.0.1'], false],
  ['ISATAP (200) loopback end point', '2606:4700::200:5efe:7f00:1', ['127.0.0.1'], false],
  ['ISATAP public end point', '2606:4700::5efe:808:808', ['8.8.8.8'], true],
  ['ISATAP in a private prefix', 'fd00::5efe:808:808', ['8.8.8.8'], false],
  ['unique local', 'fd00:ec2::254', [], false],
  ['link local', 'fe80::1', [], false],
];

describe('isPublicAddress', () => {
  it.each(TABLE)('%s (%s)', (_form, address, inside, expected) => {
    const parsed = ipaddr.parse(address);
    if (parsed.kind() === 'ipv6') {
      expect(embeddedIPv4(parsed as ipaddr.IPv6).map((ip) => ip.toString())).toEqual(inside);
    }
    expect(isPublicAddress(address)).toBe(expected);
  });

  it('refuses the IPv4-compatible loopback URL before any connection', async () => {
    const error = await resolveAllowed(parseOutboundUrl('http://[::127.0.0.1]:9/')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SafeFetchError);
    expect((error as SafeFetchError).code).toBe('blocked-address');
  });
});
