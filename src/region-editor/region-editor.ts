import sharp, { type OutputInfo } from 'sharp';
import { finishedResult, requestForAction } from '../../commands/actions.ts';
import { admitAndReply, type CommandReply } from '../../commands/admit-and-reply.ts';
import { publicBaseUrl } from '../api/public-base-url.ts';
import type { Services } from '../app/services.ts';
import { UserError } from '../errors/user-error.ts';
import type { MemberRef } from '../members/member-ref.ts';
import type { Origin } from '../queue/job-data.ts';
import type { JobView } from '../queue/job-view.ts';
import { scopeKey } from '../state/keys.ts';
import { type RegionGrant, RegionGrants } from './region-grants.ts';
import { RegionSecret } from './region-secret.ts';
import {
  checkRegionToken,
  newNonce,
  REGION_LINK_TTL_MS,
  type RegionClaims,
  signRegionToken,
} from './region-token.ts';

/**
 * Vary (Region), platform-neutral: a button press gets a signed, single-use link to the mask editor
 * (offerLink); the api role checks the link before showing the page or the image (open), and turns
 * one submission into an inpaint job charged to the member who pressed (submit), through the same
 * admission as every request.
 */

export type RegionServices = Pick<
  Services,
  'config' | 'redis' | 'prefix' | 'jobs' | 'admission' | 'artifacts'
>;

/** Why a link does not open: each gets its own page. */
export type LinkProblem = 'forged' | 'expired' | 'used' | 'gone';

export const LINK_PROBLEMS: Record<LinkProblem, { status: number; title: string; text: string }> = {
  forged: {
    status: 403,
    title: 'This link is not valid',
    text: 'easel did not make this link, or it was changed. Press Vary (Region) under the image again for a new one. Nothing was queued.',
  },
  expired: {
    status: 410,
    title: 'This link has expired',
    text: 'Vary (Region) links work for 15 minutes. Press Vary (Region) under the image again for a new one. Nothing was queued.',
  },
  used: {
    status: 410,
    title: 'This link was already used',
    text: 'Each Vary (Region) link queues one job. Press Vary (Region) under the image again to vary another region.',
  },
  gone: {
    status: 404,
    title: 'That image is gone',
    text: 'Results are kept for a limited time; run /imagine again. Nothing was queued.',
  },
};

export type Opened =
  | {
      ok: true;
      claims: RegionClaims;
      grant: RegionGrant;
      job: JobView;
      image: { artifactId: string; width: number; height: number };
    }
  | { ok: false; problem: LinkProblem };

/** What the page sends: the prompt and the mask as a PNG (a data URI or bare base64). */
export interface Submission {
  prompt?: unknown;
  mask?: unknown;
}

export type Submitted = CommandReply | { status: 'link'; problem: LinkProblem };

/** Largest mask PNG accepted (a black-and-white mask of 1536x1536 compresses far below this). */
export const MASK_MAX_BYTES = 4 * 1024 * 1024;

export class RegionEditor {
  private readonly secret: RegionSecret;
  private readonly grants: RegionGrants;

  constructor(
    private readonly services: RegionServices,
    private readonly clock: () => number = Date.now,
  ) {
    this.secret = new RegionSecret(services.redis, services.prefix, services.config.REGION_EDITOR_SECRET);
    this.grants = new RegionGrants(services.redis, services.prefix);
  }

  /**
   * A link for the member who pressed Vary (Region) under `jobId`'s image `index`, or a UserError
   * (job gone, of another scope, not finished). `origin` is where the result is to be posted.
   */
  async offerLink(input: {
    jobId: string;
    index: number;
    member: MemberRef;
    origin: Origin;
  }): Promise<{ url: string; expiresAt: number }> {
    if (!this.services.config.API_ENABLED) {
      throw UserError.refused({ reason: 'region-editor-off' });
    }
    const job = await this.services.jobs.get(input.jobId);
    if (!job || scopeKey(job.data.member.scope) !== scopeKey(input.member.scope)) {
      throw UserError.refused({ reason: 'job-gone' });
    }
    const images = finishedResult(job).images;
    if (!images[input.index]) {
      throw UserError.refused({ reason: 'no-such-image', image: input.index + 1, count: images.length });
    }
    const now = this.clock();
    const claims: RegionClaims = {
      jobId: input.jobId,
      index: input.index,
      scope: scopeKey(input.member.scope),
      userId: input.member.userId,
      expiresAt: now + REGION_LINK_TTL_MS,
      nonce: newNonce(),
    };
    await this.grants.put(
      claims.nonce,
      { jobId: input.jobId, index: input.index, member: input.member, origin: resultOrigin(input.origin) },
      REGION_LINK_TTL_MS,
    );
    const token = signRegionToken(await this.secret.get(), claims);
    return { url: `${publicBaseUrl(this.services.config)}/region?t=${token}`, expiresAt: claims.expiresAt };
  }

  /** The link's job and image while the link is good and unused; takes nothing. */
  async open(token: string): Promise<Opened> {
    const checked = await this.check(token);
    if (!checked.ok) return checked;
    const grant = await this.grants.peek(checked.claims.nonce);
    if (!grant || !grantMatches(grant, checked.claims)) return { ok: false, problem: 'used' };
    return this.withImage(checked.claims, grant);
  }

  /**
   * The page's submission: takes the link's grant (atomically: a replay, even a concurrent one, finds
   * none), stores the mask and admits the inpaint job. When nothing is queued (a bad mask or prompt,
   * a refusal by admission) the mask is deleted and the grant given back, so the link still works.
   */
  async submit(token: string, body: Submission): Promise<Submitted> {
    const checked = await this.check(token);
    if (!checked.ok) return { status: 'link', problem: checked.problem };
    const { claims } = checked;
    const grant = await this.grants.take(claims.nonce);
    if (!grant || !grantMatches(grant, claims)) return { status: 'link', problem: 'used' };
    const giveBack = () => this.grants.giveBack(claims.nonce, grant, claims.expiresAt - this.clock());
    let maskId: string | undefined;
    try {
      const opened = await this.withImage(claims, grant);
      if (!opened.ok) return { status: 'link', problem: opened.problem };
      const prompt = typeof body.prompt === 'string' ? body.prompt : '';
      const mask = await decodeMask(body.mask, opened.image);
      maskId = await this.services.artifacts.put(mask, { contentType: 'image/png', jobId: claims.jobId });
      const request = requestForAction(
        { request: opened.job.data.request, result: finishedResult(opened.job) },
        { action: 'vary-region', jobId: claims.jobId, index: claims.index },
        { prompt, maskImage: maskId },
      );
      const reply = await admitAndReply(this.services, {
        requestId: `region:${claims.nonce}`,
        member: grant.member,
        origin: grant.origin,
        request,
        followUp: true,
      });
      if (reply.status === 'accepted') return reply;
      await this.undo(maskId, giveBack);
      return reply;
    } catch (error) {
      await this.undo(maskId, giveBack);
      if (error instanceof UserError) return { status: 'refused', error };
      throw error;
    }
  }

  private async undo(maskId: string | undefined, giveBack: () => Promise<void>): Promise<void> {
    if (maskId) await this.services.artifacts.delete(maskId);
    await giveBack();
  }

  private async check(
    token: string,
  ): Promise<{ ok: true; claims: RegionClaims } | { ok: false; problem: LinkProblem }> {
    const checked = checkRegionToken(await this.secret.get(), token, this.clock());
    return checked.ok ? checked : { ok: false, problem: checked.reason };
  }

  private async withImage(claims: RegionClaims, grant: RegionGrant): Promise<Opened> {
    const job = await this.services.jobs.get(claims.jobId);
    const image = job?.state === 'completed' ? job.result?.images[claims.index] : undefined;
    if (!job || !image || scopeKey(job.data.member.scope) !== claims.scope)
      return { ok: false, problem: 'gone' };
    return { ok: true, claims, grant, job, image };
  }
}

/** The grant was made for exactly these claims (the nonce is random, so this only guards against bugs). */
function grantMatches(grant: RegionGrant, claims: RegionClaims): boolean {
  return (
    grant.jobId === claims.jobId &&
    grant.index === claims.index &&
    grant.member.userId === claims.userId &&
    scopeKey(grant.member.scope) === claims.scope
  );
}

/**
 * Where a Vary (Region) job's result goes: where the button was pressed. On Discord the press's
 * interaction token answered with the private link, and editing that answer would hide the result
 * in it; the job keeps no token (one that reads as older than 15 minutes), so delivery posts the
 * result with the bot token into the thread or channel, with its buttons, as it does for any job
 * whose token died.
 */
function resultOrigin(origin: Origin): Origin {
  if (origin.platform !== 'discord') return origin;
  return { ...origin, interactionToken: '', interactionCreatedAt: 0 };
}

function invalidMask(message: string): UserError {
  return UserError.invalid([{ field: 'mask', message: `mask: ${message}` }]);
}

/**
 * The page's mask as easel stores it: a one-channel PNG, 255 where the member painted (white =
 * change), 0 elsewhere, exactly the source image's size. The client's bytes are decoded and
 * re-encoded, never passed on.
 */
async function decodeMask(value: unknown, image: { width: number; height: number }): Promise<Buffer> {
  if (typeof value !== 'string' || value === '') throw invalidMask('required; paint the part to change');
  const base64 = value.replace(/^data:image\/png;base64,/, '');
  if (base64.length > Math.ceil((MASK_MAX_BYTES * 4) / 3) + 4) {
    throw invalidMask(`larger than ${MASK_MAX_BYTES / (1024 * 1024)} MB`);
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) throw invalidMask('must be a PNG image in base64');
  const bytes = Buffer.from(base64, 'base64');
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    const meta = await sharp(bytes).metadata();
    if (meta.format !== 'png') throw new Error('not png');
    if (meta.width !== image.width || meta.height !== image.height) {
      throw invalidMask(
        `it is ${meta.width}x${meta.height} but the image is ${image.width}x${image.height}; they must be the same size`,
      );
    }
    decoded = await sharp(bytes)
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw invalidMask('must be a PNG image');
  }
  const { data, info } = decoded;
  const grey = Buffer.alloc(info.width * info.height);
  let painted = 0;
  for (let i = 0; i < grey.length; i++) {
    const o = i * info.channels;
    const light = (data[o]! + data[o + 1]! + data[o + 2]!) / 3;
    if (light >= 128) {
      grey[i] = 255;
      painted++;
    }
  }
  if (painted === 0) throw invalidMask('nothing is painted; paint the part of the image to change');
  return sharp(grey, { raw: { width: info.width, height: info.height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();
}
