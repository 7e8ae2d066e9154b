import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/**
 * Hosts for the multi-host test: one network namespace per host, each with a veth pair whose other
 * end is on a bridge in the test's own namespace, so every host reaches every other and the test
 * (on the bridge's address) reaches them all. Names carry a random tag, so runs never collide, and
 * `destroy` removes every namespace and link it made, whatever state the test left.
 */
export interface LabHost {
  name: string;
  netns: string;
  address: string;
  /** The veth end on the bridge: setting it down cuts the host off, as a pulled cable. */
  hostLink: string;
  /** The host's own interface, inside its namespace. */
  device: string;
  /** Prefix for a command run on this host. */
  exec: string[];
}

export interface Lab {
  /** The test's own address on the hosts' network. */
  gateway: string;
  hosts: Record<string, LabHost>;
  run(args: string[], netns?: string): void;
  destroy(): void;
}

function ip(args: string[]): { ok: boolean; output: string } {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

/** Why this machine cannot make network namespaces (not root, no iproute2, a sandbox), or undefined. */
export function netnsUnavailable(): string | undefined {
  if (spawnSync('ip', ['-V']).status !== 0) return 'ip (iproute2) is not installed';
  if (spawnSync('nft', ['--version']).status !== 0) return 'nft (nftables) is not installed';
  const probe = `ezprobe${randomBytes(3).toString('hex')}`;
  const added = ip(['netns', 'add', probe]);
  if (!added.ok) return `ip netns add failed: ${added.output.trim()}`;
  const bridge = ip(['link', 'add', `${probe.slice(0, 12)}b`, 'type', 'bridge']);
  ip(['link', 'del', `${probe.slice(0, 12)}b`]);
  ip(['netns', 'del', probe]);
  return bridge.ok ? undefined : `no bridge: ${bridge.output.trim()}`;
}

export function createLab(names: string[]): Lab {
  const tag = randomBytes(2).toString('hex');
  const subnet = `10.${200 + ((randomBytes(1)[0] ?? 0) % 50)}.${randomBytes(1)[0] ?? 0}`;
  const bridge = `ezb${tag}`;
  const made: { netns: string[]; links: string[] } = { netns: [], links: [] };
  const must = (args: string[]) => {
    const result = ip(args);
    if (!result.ok) throw new Error(`ip ${args.join(' ')}: ${result.output}`);
  };
  const lab: Lab = {
    gateway: `${subnet}.1`,
    hosts: {},
    run(args, netns) {
      const full = netns === undefined ? args : ['ip', 'netns', 'exec', netns, ...args];
      const [file = '', ...rest] = full;
      const result = spawnSync(file, rest, { encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`${full.join(' ')}: ${result.stdout}${result.stderr}`);
    },
    destroy() {
      for (const netns of made.netns) ip(['netns', 'del', netns]);
      for (const link of made.links) ip(['link', 'del', link]);
    },
  };
  try {
    must(['link', 'add', bridge, 'type', 'bridge']);
    made.links.push(bridge);
    must(['addr', 'add', `${lab.gateway}/24`, 'dev', bridge]);
    must(['link', 'set', bridge, 'up']);
    names.forEach((name, i) => {
      const netns = `ez${tag}-${name}`;
      const hostLink = `ez${tag}${i}h`;
      const inner = `ez${tag}${i}n`;
      must(['netns', 'add', netns]);
      made.netns.push(netns);
      must(['link', 'add', hostLink, 'type', 'veth', 'peer', 'name', inner]);
      made.links.push(hostLink);
      must(['link', 'set', inner, 'netns', netns]);
      must(['link', 'set', hostLink, 'master', bridge]);
      must(['link', 'set', hostLink, 'up']);
      const address = `${subnet}.${i + 2}`;
      must(['-n', netns, 'addr', 'add', `${address}/24`, 'dev', inner]);
      must(['-n', netns, 'link', 'set', inner, 'up']);
      must(['-n', netns, 'link', 'set', 'lo', 'up']);
      lab.hosts[name] = {
        name,
        netns,
        address,
        hostLink,
        device: inner,
        exec: ['ip', 'netns', 'exec', netns],
      };
    });
  } catch (error) {
    lab.destroy();
    throw error;
  }
  return lab;
}
