import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The token in a Vary (Region) link: `<claims>.<signature>`, both base64url. The claims name the job
 * and image, the member and scope who pressed the button, the expiry and a random nonce (the key of
 * the link's single-use grant in Redis); the signature is HMAC-SHA256 over them with the editor's
 * secret, so nothing in a link can be changed or made up without the secret. Pure: no Redis, no clock
 * of its own.
 */

/** How long a link works. */
export const REGION_LINK_TTL_MS = 15 * 60 * 1000;

export interface RegionClaims {
  jobId: string;
  /** 0-based image of the job. */
  index: number;
  /** `kind:id` of the member's credit scope. */
  scope: string;
  userId: string;
  /** ms since epoch. */
  expiresAt: number;
  nonce: string;
}

export type TokenCheck =
  | { ok: true; claims: RegionClaims }
  | { ok: false; reason: 'forged' | 'expired'; claims?: RegionClaims };

/** Domain separation: a signature made for anything else with the same key never verifies here. */
const CONTEXT = 'easel-region-v1.';
const TOKEN_MAX = 1024;
const NONCE = /^[A-Za-z0-9_-]{22}$/;

export function newNonce(): string {
  return randomBytes(16).toString('base64url');
}

function sign(secret: string, body: string): Buffer {
  return createHmac('sha256', secret).update(CONTEXT).update(body).digest();
}

export function signRegionToken(secret: string, claims: RegionClaims): string {
  const body = Buffer.from(
    JSON.stringify({
      v: 1,
      j: claims.jobId,
      i: claims.index,
      s: claims.scope,
      u: claims.userId,
      e: claims.expiresAt,
      n: claims.nonce,
    }),
  ).toString('base64url');
  return `${body}.${sign(secret, body).toString('base64url')}`;
}

/**
 * Whether a token is one this deployment signed and still in time. The signature is checked first
 * (in constant time), so a forged token reveals nothing, not even whether it would have expired.
 */
export function checkRegionToken(secret: string, token: unknown, now: number): TokenCheck {
  if (typeof token !== 'string' || token.length > TOKEN_MAX) return { ok: false, reason: 'forged' };
  const [body, signature, ...rest] = token.split('.');
  if (!body || !signature || rest.length > 0) return { ok: false, reason: 'forged' };
  const given = Buffer.from(signature, 'base64url');
  const expected = sign(secret, body);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'forged' };
  }
  const claims = parseClaims(body);
  // Signed by us yet unreadable: only a different release could have made it; treat as not ours.
  if (!claims) return { ok: false, reason: 'forged' };
  if (now >= claims.expiresAt) return { ok: false, reason: 'expired', claims };
  return { ok: true, claims };
}

function parseClaims(body: string): RegionClaims | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const r = raw as Record<string, unknown>;
  if (
    typeof raw !== 'object' ||
    raw === null ||
    r.v !== 1 ||
    typeof r.j !== 'string' ||
    !Number.isInteger(r.i) ||
    typeof r.s !== 'string' ||
    typeof r.u !== 'string' ||
    !Number.isSafeInteger(r.e) ||
    typeof r.n !== 'string' ||
    !NONCE.test(r.n)
  ) {
    return undefined;
  }
  return {
    jobId: r.j,
    index: r.i as number,
    scope: r.s,
    userId: r.u,
    expiresAt: r.e as number,
    nonce: r.n,
  };
}
