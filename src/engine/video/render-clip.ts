import type { ModelEntry } from '../../models/registry.ts';
import type { ClipFile, GenerateResult, NsfwVerdict, RenderedClip } from '../../queue/job-data.ts';
import type { GenerationRequest } from '../../request/types.ts';
import { encodePng } from '../image-io.ts';
import { formatInfotext } from '../infotext.ts';
import { withPngText } from '../png-text.ts';
import { infotextExtras, type RendererDeps, type RenderJobContext, screenerFor } from '../render-job.ts';
import { encodeClip } from './encode-clip.ts';
import { generateClip } from './generate-clip.ts';

/** The worst of the frames' verdicts: a clip is flagged when any frame is. */
function worstVerdict(verdicts: NsfwVerdict[]): NsfwVerdict | null {
  if (verdicts.length === 0) return null;
  return verdicts.reduce((worst, v) => (v.score > worst.score || (v.nsfw && !worst.nsfw) ? v : worst));
}

/**
 * A clip job: render every frame (progress per frame, which is also what a cancel is charged by),
 * screen each frame, encode every format, store them and the first frame as a PNG poster carrying
 * the parameters. Everything is encoded before anything is stored; what was stored is deleted when
 * a later step fails.
 */
export async function renderClip(
  deps: RendererDeps,
  entry: ModelEntry,
  request: GenerationRequest,
  ctx: RenderJobContext,
  started: number,
): Promise<GenerateResult> {
  const video = request.video!;
  const clip = await generateClip(request, {
    store: deps.store,
    catalog: deps.catalog,
    maxPixels: deps.settings.maxPixels,
    signal: ctx.signal,
    onFrame: (done, total) => {
      // A rejection means the job was cancelled; the render notices through its signal.
      ctx.reportProgress({ step: done, total }).catch(() => {});
    },
    images: {
      load: async () => {
        throw new Error('a clip starts from no uploaded image');
      },
    },
  });
  const screen = await screenerFor(deps, entry, clip.model);
  const verdicts: NsfwVerdict[] = [];
  if (screen !== undefined) for (const frame of clip.frames) verdicts.push(await screen(frame));
  const nsfw = worstVerdict(verdicts);
  const first = clip.frames[0]!;
  const parameters = formatInfotext({
    prompt: request.prompt,
    negativePrompt: request.negativePrompt,
    steps: request.steps,
    sampler: request.sampler,
    guidance: request.guidance,
    seed: request.seed,
    width: first.width,
    height: first.height,
    model: request.model,
    extra: {
      ...infotextExtras(request),
      Video: video.mode,
      Frames: video.frames,
      FPS: video.fps,
      ...(video.loop ? { Loop: 'yes' } : {}),
      ...(video.to !== undefined ? { 'Morph to': video.to } : {}),
    },
  });
  const poster = withPngText(await encodePng(first), 'parameters', parameters);
  const encoded = await encodeClip(clip.frames, video.fps);

  const stored: string[] = [];
  try {
    const put = async (bytes: Buffer, contentType: string) => {
      const id = await deps.artifacts.put(bytes, { contentType, jobId: ctx.jobId });
      stored.push(id);
      return id;
    };
    const files: ClipFile[] = [];
    for (const file of encoded) {
      files.push({
        format: file.format,
        artifactId: await put(file.bytes, file.contentType),
        contentType: file.contentType,
        bytes: file.bytes.length,
      });
    }
    const posterId = await put(poster, 'image/png');
    const rendered: RenderedClip = {
      frames: clip.frames.length,
      fps: video.fps,
      loop: video.loop,
      mode: video.mode,
      width: first.width,
      height: first.height,
      durationMs: Math.round((clip.frames.length * 1000) / video.fps),
      files,
      nsfw,
    };
    const totalMs = Math.round(performance.now() - started);
    const result: GenerateResult = {
      v: 1,
      images: [
        {
          artifactId: posterId,
          width: first.width,
          height: first.height,
          bytes: poster.length,
          seed: request.seed,
          nsfw,
        },
      ],
      video: rendered,
      seed: request.seed,
      model: request.model,
      provider: clip.provider,
      truncatedWords: clip.truncatedWords,
      timings: { loadMs: clip.loadMs, renderMs: Math.max(0, totalMs - clip.loadMs), totalMs },
    };
    ctx.logger.info(
      {
        model: request.model,
        video: video.mode,
        frames: rendered.frames,
        provider: clip.provider,
        ...result.timings,
      },
      'rendered clip',
    );
    return result;
  } catch (error) {
    await Promise.all(stored.map((id) => deps.artifacts.delete(id).catch(() => {})));
    throw error;
  }
}
