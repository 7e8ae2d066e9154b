import sharp from 'sharp';
import type { ArtifactStore } from '../artifacts/artifact-store.ts';
import type { Config } from '../config/schema.ts';
import { engineSettings } from '../engine/engine-settings.ts';
import { MAX_INPUT_PIXELS, type RgbImage } from '../engine/image-io.ts';
import { ModelStore } from '../engine/model-store.ts';
import { classifierScreen, type NsfwScreen } from '../engine/nsfw-screen.ts';
import { nsfwjsScreen, nsfwjsThresholds } from '../engine/nsfwjs-screen.ts';
import { UserError } from '../errors/user-error.ts';
import type { Logger } from '../log/logger.ts';
import type { Registry } from '../models/registry.ts';
import type { QuotaStore } from '../quotas/quota-store.ts';
import type { AdmissionInput } from './types.ts';

/** Inputs are shrunk to this before classifying: plenty for a 224 px classifier, and a 50 MP upload costs little. */
const SCREEN_SIDE = 448;

export interface InputImageScreeningDeps {
  config: Config;
  logger: Logger;
  registry: Registry;
  artifacts: ArtifactStore;
  quotas: Pick<QuotaStore, 'get'>;
}

/**
 * Screens a request's input image (an init image: an upload, a URL, a Discord attachment, or the
 * result a button acts on) before admission, in the scope whose NSFW policy is `block`: an NSFW
 * input is refused with a message naming the field, before anything is reserved or charged. The
 * classifier is MODELS_DIR/nsfw-classifier when installed, else the built-in nsfwjs one
 * (NSFW_CLASSIFIER), loaded on the first input. When screening is configured but cannot run (the
 * classifier failed to load), inputs are refused rather than waved through.
 */
export class InputImageScreening {
  private readonly store: ModelStore;
  private screen: Promise<NsfwScreen | undefined> | undefined;

  constructor(private readonly deps: InputImageScreeningDeps) {
    const settings = engineSettings(deps.config);
    // Only the classifier is ever loaded here: no upscaler, no diffusion model.
    this.store = new ModelStore(
      { ...settings, builtin: { ...settings.builtin, upscaler: 'lanczos' } },
      deps.registry,
      deps.logger,
    );
  }

  /** Throws a `UserError` when the request's input image may not be used in its scope. */
  async check(input: AdmissionInput): Promise<void> {
    const init = input.request.initImage;
    if (init === undefined || this.deps.config.NSFW_SCREENING === 'off') return;
    if ((await this.deps.quotas.get(input.member.scope)).nsfw !== 'block') return;
    const artifact = await this.deps.artifacts.get(init.artifactId);
    // A missing or unreadable image is the render's to report, with the field's own message.
    if (artifact === undefined) return;
    const picture = await shrunk(artifact.bytes);
    if (picture === undefined) return;
    const screen = await this.screenOrRefuse();
    if (screen === undefined) return;
    const verdict = await screen(picture);
    if (verdict.nsfw) {
      throw UserError.invalid([
        {
          field: 'initImage',
          message:
            'initImage: the input image was flagged as NSFW, and NSFW images are blocked here; nothing was charged',
        },
      ]);
    }
  }

  async release(): Promise<void> {
    await this.store.release();
  }

  private async screenOrRefuse(): Promise<NsfwScreen | undefined> {
    this.screen ??= this.loadScreen();
    try {
      return await this.screen;
    } catch (error) {
      this.screen = undefined;
      this.deps.logger.error(
        { err: (error as Error).message },
        'input images cannot be screened for NSFW content',
      );
      throw new UserError(
        'unavailable',
        'Input images cannot be screened for NSFW content right now, so they are not accepted; try again later.',
      );
    }
  }

  private async loadScreen(): Promise<NsfwScreen | undefined> {
    const installed = await this.store.nsfwClassifier();
    if (installed !== undefined) return classifierScreen(installed, this.deps.config.NSFW_THRESHOLD);
    const builtin = await this.store.builtinClassifier();
    if (builtin !== undefined) return nsfwjsScreen(builtin.session, nsfwjsThresholds(this.deps.config));
    return undefined;
  }
}

async function shrunk(bytes: Buffer): Promise<RgbImage | undefined> {
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' })
      .rotate()
      .flatten({ background: '#ffffff' })
      .resize(SCREEN_SIDE, SCREEN_SIDE, { fit: 'inside', withoutEnlargement: true })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height };
  } catch {
    return undefined;
  }
}
