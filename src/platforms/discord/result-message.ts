import { resultButtonRows } from '../../../commands/actions.ts';
import type { ResultView } from '../../../commands/delivery-lifecycle.ts';
import type { ArtifactStore } from '../../artifacts/artifact-store.ts';
import { clipUpload } from '../../delivery/clip-file.ts';
import { CodedError } from '../../errors/coded-error.ts';
import type { GenerateResult } from '../../queue/job-data.ts';
import type { GenerationRequest } from '../../request/types.ts';
import { clipLine } from '../clip-line.ts';
import { buttonRows } from './components.ts';
import {
  blankImage,
  DEFAULT_FILE_LIMIT,
  fitAttachments,
  type OutgoingFile,
  REQUEST_LIMIT,
} from './fit-attachments.ts';
import { discordNote } from './result-notes.ts';
import { jobTitle, MESSAGE_MAX, truncate } from './status-text.ts';

/**
 * A finished job as Discord messages: the 2x2 grid (or the single image) with the buttons, or the
 * images one by one when the NSFW policy treats some differently (a grid cannot be half spoiler).
 * Usually one message; more when the files exceed what one message may carry.
 */
export interface ResultPart {
  content?: string;
  files: OutgoingFile[];
  components?: ReturnType<typeof buttonRows>;
}

export interface ResultInput {
  jobId: string;
  userId: string;
  request: GenerationRequest;
  result: GenerateResult;
  /** Which images this channel shows, and the notes (commands/delivery-lifecycle.ts). */
  view: ResultView;
  attachmentSizeLimit?: number;
}

async function artifactBytes(artifacts: ArtifactStore, id: string): Promise<Buffer> {
  const found = await artifacts.get(id);
  // Gone (swept, or lost with a disk): no retry brings it back.
  if (!found) throw new CodedError('image-invalid', `artifact ${id} is missing`);
  return found.bytes;
}

const DISCORD_CLIP_ORDER = ['mp4', 'webp', 'gif'] as const;

export async function resultParts(artifacts: ArtifactStore, input: ResultInput): Promise<ResultPart[]> {
  const { result, request } = input;
  // A blocked image is replaced by a blank one of its size: the others keep their numbers.
  const { treatments } = input.view;
  let files: OutgoingFile[];
  let clipReencoded = false;
  if (result.video !== undefined) {
    const treatment = treatments[0]!;
    const limit = Math.min(input.attachmentSizeLimit ?? DEFAULT_FILE_LIMIT, REQUEST_LIMIT);
    if (treatment === 'blank') {
      files = [
        {
          name: `easel-${result.seed}-hidden.png`,
          bytes: await blankImage(result.video.width, result.video.height),
          description: 'Hidden: flagged by the safety checker',
        },
      ];
    } else {
      // MP4 plays inline and is the smallest; an animated WebP or GIF where no ffmpeg made one.
      const clip = await clipUpload(
        artifacts,
        result.video,
        `easel-${result.seed}-clip`,
        DISCORD_CLIP_ORDER,
        limit,
      );
      clipReencoded = clip.reencoded;
      files = [{ name: `${treatment === 'spoiler' ? 'SPOILER_' : ''}${clip.name}`, bytes: clip.bytes }];
    }
  } else if (result.grid && result.images.length > 1 && treatments.every((t) => t === 'show')) {
    files = [
      {
        name: `easel-${result.seed}-grid.png`,
        bytes: await artifactBytes(artifacts, result.grid.artifactId),
      },
    ];
  } else {
    files = await Promise.all(
      result.images.map(async (img, i): Promise<OutgoingFile> => {
        const t = treatments[i]!;
        if (t === 'blank') {
          return {
            name: `easel-${img.seed}-${i + 1}-hidden.png`,
            bytes: await blankImage(img.width, img.height),
            description: 'Hidden: flagged by the safety checker',
          };
        }
        return {
          name: `${t === 'spoiler' ? 'SPOILER_' : ''}easel-${img.seed}-${i + 1}.png`,
          bytes: await artifactBytes(artifacts, img.artifactId),
        };
      }),
    );
  }
  const { messages, reencoded } = await fitAttachments(
    files,
    input.attachmentSizeLimit ?? DEFAULT_FILE_LIMIT,
  );
  const content = resultText(input, reencoded, clipReencoded);
  const components = buttonRows(resultButtonRows({ jobId: input.jobId, request, result }));
  return messages.map((group, i) => ({
    files: group,
    ...(i === 0 ? { content } : {}),
    ...(i === messages.length - 1 ? { components } : {}),
  }));
}

function resultText(input: ResultInput, reencoded: boolean, clipReencoded: boolean): string {
  const { request, result } = input;
  const lines = [
    `${jobTitle(request)} — <@${input.userId}>`,
    `-# ${result.model} · ${request.width}x${request.height} · ${request.steps} steps · ${request.sampler} · guidance ${request.guidance} · seed ${result.seed}`,
  ];
  if (result.video !== undefined) lines.push(`-# ${clipLine(result.video)}`);
  if (clipReencoded) lines.push('📦 The clip was made smaller to fit Discord’s file size limit.');
  lines.push(...input.view.notes.map(discordNote));
  if (reencoded) {
    lines.push(
      '📦 Sent as WebP to fit Discord’s file size limit (the PNG’s generation parameters are not included).',
    );
  }
  return truncate(lines.join('\n'), MESSAGE_MAX);
}
