import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.ts';
import { parseClusterUrl } from '../../src/redis/cluster-url.ts';

describe('REDIS_URL for a Redis Cluster', () => {
  it('reads the seed nodes, the credentials and TLS', () => {
    expect(parseClusterUrl('redis+cluster://10.0.0.5:6379,10.0.0.6:6380')).toEqual({
      nodes: [
        { host: '10.0.0.5', port: 6379 },
        { host: '10.0.0.6', port: 6380 },
      ],
      tls: false,
    });
    expect(parseClusterUrl('rediss+cluster://easel:p%40ss@redis-a.internal:6379,[::1]:7000')).toEqual({
      nodes: [
        { host: 'redis-a.internal', port: 6379 },
        { host: '::1', port: 7000 },
      ],
      username: 'easel',
      password: 'p@ss',
      tls: true,
    });
    expect(parseClusterUrl('redis+cluster://:secret@h:1')).toEqual({
      nodes: [{ host: 'h', port: 1 }],
      password: 'secret',
      tls: false,
    });
  });

  it('leaves single-server URLs to the plain client', () => {
    expect(parseClusterUrl('redis://127.0.0.1:6379')).toBeUndefined();
    expect(parseClusterUrl('rediss://u:p@host:6380/2')).toBeUndefined();
  });

  it('refuses a malformed node list with the part that is wrong', () => {
    expect(() => parseClusterUrl('redis+cluster://')).toThrow(/expected redis\+cluster:\/\//);
    expect(() => parseClusterUrl('redis+cluster://a:1,b')).toThrow(/"b" is not host:port/);
    expect(() => parseClusterUrl('redis+cluster://a:0')).toThrow(/"a:0" is not host:port/);
    expect(() => parseClusterUrl('redis+cluster://a:1/3')).toThrow(/expected redis\+cluster:\/\//);
  });

  it('is checked with the rest of the configuration', () => {
    expect(parseConfig({ REDIS_URL: 'redis+cluster://a:1,b:2' }).REDIS_URL).toBe('redis+cluster://a:1,b:2');
    expect(() => parseConfig({ REDIS_URL: 'memcached://a:1' })).toThrow(
      /REDIS_URL: expected a URL starting with redis:\/\/ or rediss:\/\/ \(or redis\+cluster:\/\/ for a Redis Cluster\)/,
    );
  });
});
