/**
 * A Redis Cluster in REDIS_URL: `redis+cluster://[user:password@]host:port[,host:port...]`, or
 * `rediss+cluster://` for TLS. The nodes are only where the client starts: it learns the whole
 * cluster from any one of them, so naming a few primaries is enough. The credentials apply to every
 * node. One variable keeps every role's connection code unaware of the kind of Redis.
 */
export interface ClusterUrl {
  nodes: { host: string; port: number }[];
  username?: string;
  password?: string;
  tls: boolean;
}

export const CLUSTER_SCHEMES = ['redis+cluster:', 'rediss+cluster:'];

/** The cluster a URL names, undefined for a single-server URL, or a thrown reason when malformed. */
export function parseClusterUrl(url: string): ClusterUrl | undefined {
  const match = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?$/.exec(url);
  if (!/^rediss?\+cluster:/.test(url)) return undefined;
  if (!match) throw new Error('expected redis+cluster://[user:password@]host:port[,host:port...]');
  const [, scheme, userinfo, hostList = ''] = match;
  const nodes = hostList.split(',').map((part) => {
    const node = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(part.trim());
    const port = Number(node?.[2]);
    if (!node || port < 1 || port > 65535) throw new Error(`"${part}" is not host:port`);
    return { host: (node[1] ?? '').replace(/^\[|\]$/g, ''), port };
  });
  const cluster: ClusterUrl = { nodes, tls: scheme === 'rediss' };
  if (userinfo !== undefined && userinfo !== '') {
    const colon = userinfo.indexOf(':');
    const user = decodeURIComponent(colon === -1 ? userinfo : userinfo.slice(0, colon));
    const password = colon === -1 ? undefined : decodeURIComponent(userinfo.slice(colon + 1));
    // As in redis://:password@host, an empty user name means the default user.
    if (user !== '') cluster.username = user;
    if (password !== undefined) cluster.password = password;
  }
  return cluster;
}
