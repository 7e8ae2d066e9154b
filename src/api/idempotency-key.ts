import { createHash, hash } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { SETTLED_TTL_S } from '../credits/reservations.ts';
import { ApiError } from './api-error.ts';
import { heldValue, type LargeValues } from './large-body-values.ts';
import { TEXT_MAX_CHARS } from './text-limits.ts';

/**
 * `Idempotency-Key`, as Stripe defines it: the same key with the same request returns the first
 * request's job (admission derives the job id from the key), and the same key with a *different*
 * request is a client bug, answered 409 instead of silently returning a job for other parameters.
 * The request is compared by a hash of its body (the `key` field aside, since it may also travel in
 * a header), remembered only once a request was admitted: a refused request may be corrected and
 * sent again under the same key.
 */

/** The header's value, or undefined when absent; 422 when it is too long to keep. */
export function readIdempotencyKey(request: FastifyRequest): string | undefined {
  const value = request.headers['idempotency-key'];
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  if (value.length > TEXT_MAX_CHARS.idempotencyKey) {
    throw ApiError.validation([
      {
        field: 'Idempotency-Key',
        message: `The Idempotency-Key header must be at most ${TEXT_MAX_CHARS.idempotencyKey} characters.`,
      },
    ]);
  }
  return value.trim();
}

/** The request id admission sees: bounded in length whatever the client's key looks like. */
export function idempotentRequestId(keyId: string, idempotencyKey: string): string {
  return `api:${keyId}:idem:${hash('sha256', idempotencyKey, 'hex').slice(0, 32)}`;
}

/** Bytes hashed between two turns of the event loop: ~2 ms of sha256. */
const HASH_SLICE_BYTES = 1024 * 1024;

/**
 * Top-level fields in name order, so the same request sent with its fields reordered matches. Each
 * field is its name, then a string's UTF-8 bytes with their length, or any other value as JSON; a
 * string held aside (large-body-values.ts) is hashed from its bytes, the same bytes it would have as
 * a parsed string, so a request's fingerprint does not depend on how its body was read. Large values
 * are hashed a slice at a time, yielding in between: 20 MB in one call blocks the loop for tens of ms.
 */
export async function bodyFingerprint(
  body: Record<string, unknown>,
  largeValues?: LargeValues,
): Promise<string> {
  const digest = createHash('sha256');
  for (const name of Object.keys(body).sort()) {
    if (name === 'key') continue;
    digest.update(`${JSON.stringify(name)}:`);
    const held = heldValue(body, largeValues, name);
    const value = body[name];
    if (held) {
      digest.update(`s${held.length}:`);
      let sinceTurn = 0;
      for (const chunk of held.chunks) {
        for (let at = 0; at < chunk.length; at += HASH_SLICE_BYTES) {
          const piece = chunk.subarray(at, at + HASH_SLICE_BYTES);
          digest.update(piece);
          sinceTurn += piece.length;
          if (sinceTurn >= HASH_SLICE_BYTES) {
            sinceTurn = 0;
            await nextTurn();
          }
        }
      }
    } else if (typeof value === 'string') {
      const bytes = Buffer.from(value);
      digest.update(`s${bytes.length}:`);
      digest.update(bytes);
    } else {
      digest.update(`j${JSON.stringify(value)}`);
    }
    digest.update(',');
  }
  return digest.digest('hex');
}

export class IdempotencyRecords {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(jobId: string): string {
    return `${this.prefix}:request-body:${jobId}`;
  }

  /** Refuses a body that differs from the one first admitted under this job's key. */
  async check(jobId: string, fingerprint: string): Promise<void> {
    const stored = await this.redis.get(this.key(jobId));
    if (stored !== null && stored !== fingerprint) throw reused(jobId);
  }

  /**
   * Remembers the admitted body for as long as admission remembers the request id (the settled
   * record's lifetime). When another request got there first with a different body, that one
   * owns the job: this one is refused.
   */
  async remember(jobId: string, fingerprint: string): Promise<void> {
    const set = await this.redis.set(this.key(jobId), fingerprint, 'EX', SETTLED_TTL_S, 'NX');
    if (set === null) await this.check(jobId, fingerprint);
  }
}

function reused(jobId: string): ApiError {
  return ApiError.of(
    409,
    'Idempotency-Key reused with a different request',
    `This Idempotency-Key was first used for a different request (job ${jobId}). Send the same body to ` +
      'get that job again, or a new key for a new request.',
  );
}
