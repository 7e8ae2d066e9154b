import type { MemberRef } from '../members/member-ref.ts';
import type { GenerationRequest } from '../request/types.ts';

/**
 * Versioned job data. Every field is plain JSON (BullMQ stores it in Redis); `v` lets a worker of a
 * newer release read jobs queued by an older one.
 */

export interface DiscordOrigin {
  platform: 'discord';
  applicationId: string;
  interactionId: string;
  interactionToken: string;
  /** ms since epoch; the token is valid for 15 minutes after this. */
  interactionCreatedAt: number;
  guildId: string;
  channelId: string;
  /** Set when the command ran inside a thread: results go there instead of a new thread. */
  inThread?: boolean;
  /** The channel's (or, for a thread, its parent's) age-restricted flag. */
  channelNsfw?: boolean;
  /** Attachment limit the interaction reported (bytes). */
  attachmentSizeLimit?: number;
  locale?: string;
  /**
   * The status message when it is a follow-up of the interaction rather than its first reply (the
   * jobs of a confirmed batch share one interaction): edits go to this id instead of `@original`.
   */
  statusMessageId?: string;
}

export interface SlackOrigin {
  platform: 'slack';
  teamId: string;
  channelId: string;
  userId: string;
  /** The parent message all progress edits and results thread under (set once posted). */
  parentTs?: string;
  responseUrl?: string;
}

export interface ApiOrigin {
  platform: 'api';
  keyId: string;
  webhook?: string;
  trackId?: string;
  base64?: boolean;
  /** A clip's file the answer's `output` links (`output_type`); absent: mp4 where made, else gif. */
  clipFormat?: 'mp4' | 'gif' | 'webp';
}

export interface CliOrigin {
  platform: 'cli';
}

export type Origin = DiscordOrigin | SlackOrigin | ApiOrigin | CliOrigin;

export interface GenerateJobData {
  v: 1;
  /** The platform's request id (interaction id, trigger id, idempotency key): one job per id. */
  requestId: string;
  request: GenerationRequest;
  member: MemberRef;
  origin: Origin;
  /** Credits reserved at admission, committed on success, refunded on final failure. */
  cost: number;
  createdAt: number;
}

export interface NsfwVerdict {
  nsfw: boolean;
  score: number;
}

export interface RenderedImage {
  artifactId: string;
  width: number;
  height: number;
  bytes: number;
  seed: number;
  /** null when the model needs no screening or screening is off by configuration. */
  nsfw: NsfwVerdict | null;
}

/** One encoding of a clip in the artifact store. */
export interface ClipFile {
  format: 'webp' | 'gif' | 'mp4';
  artifactId: string;
  contentType: string;
  bytes: number;
}

export interface RenderedClip {
  frames: number;
  fps: number;
  loop: boolean;
  mode: 'walk' | 'morph' | 'drift';
  width: number;
  height: number;
  /** Playing time: frames / fps. */
  durationMs: number;
  /** Every format this worker could write (MP4 only where ffmpeg is installed). */
  files: ClipFile[];
  /** The worst frame's verdict; null when the model needs no screening or screening is off. */
  nsfw: NsfwVerdict | null;
}

export interface GenerateResult {
  v: 1;
  /** For a clip: its first frame, as a still (the poster). */
  images: RenderedImage[];
  video?: RenderedClip;
  /** A 2x2 grid of the images when there is more than one. */
  grid?: { artifactId: string; width: number; height: number; bytes: number };
  seed: number;
  model: string;
  provider: string;
  /** Words cut from the prompt past the tokenizer's 77 tokens (told to the member). */
  truncatedWords: string[];
  /** What the member should know about the result (a LoRA that patched only part of the model). */
  warnings?: string[];
  timings: { loadMs: number; renderMs: number; totalMs: number };
}

export interface DeliverJobData {
  v: 1;
  kind: 'result' | 'failure';
  /** The generate job this delivery is for (posts are idempotent by it). */
  jobId: string;
  member: MemberRef;
  origin: Origin;
  request: GenerationRequest;
  result?: GenerateResult;
  failure?: { message: string; refunded: number };
}
