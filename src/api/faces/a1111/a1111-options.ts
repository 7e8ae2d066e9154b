import type { Redis } from 'ioredis';

/**
 * A key's own AUTOMATIC1111 settings: `POST /sdapi/v1/options` with `sd_model_checkpoint` makes that
 * model the key's default, as loading a checkpoint does in the web UI. Kept in Redis so every API
 * frontend behind a load balancer sees it; other settings change nothing in easel and are not kept.
 */
export class A1111Options {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(keyId: string): string {
    return `${this.prefix}:a1111-options:${keyId}`;
  }

  async checkpoint(keyId: string): Promise<string | undefined> {
    return (await this.redis.hget(this.key(keyId), 'sd_model_checkpoint')) ?? undefined;
  }

  async setCheckpoint(keyId: string, model: string): Promise<void> {
    await this.redis.hset(this.key(keyId), 'sd_model_checkpoint', model);
  }
}

/** A1111 titles look like `name.safetensors [hash]`; its API strips the extension, easel the hash too. */
export function checkpointName(title: string): string {
  return title
    .trim()
    .replace(/\s*\[[0-9a-f]+\]$/i, '')
    .replace(/\.(safetensors|ckpt)$/i, '');
}
