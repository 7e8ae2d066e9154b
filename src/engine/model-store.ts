import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { CodedError } from '../errors/coded-error.ts';
import type { Logger } from '../log/logger.ts';
import { modelFolder, requireModelFolder } from '../models/model-folder.ts';
import type { ModelEntry, Registry } from '../models/registry.ts';
import { type DiffusionModel, loadDiffusionModel } from './diffusion-model.ts';
import { ProviderChooser, type ProviderName } from './execution-providers.ts';

export interface EngineSettings {
  modelsDir: string;
  providers: readonly ProviderName[];
  /** onnxruntime intra-op threads; 0 lets onnxruntime choose. */
  threads: number;
}

export interface LoadedUpscaler {
  session: InferenceSession;
  provider: ProviderName;
}

export interface LoadedClassifier {
  session: InferenceSession;
  provider: ProviderName;
  /** Label index -> name, from config.json's id2label. */
  labels: string[];
  mean: [number, number, number];
  std: [number, number, number];
  size: number;
}

/** Where a standalone NSFW image classifier lives (used for models without a safety_checker/). */
export const CLASSIFIER_FOLDER = 'nsfw-classifier';

/**
 * Keeps models resident: each model is loaded once per worker process and reused by every job
 * (loading SD's UNet takes seconds). A load that fails is forgotten, so a later job tries again
 * once the operator has fixed the folder.
 */
export class ModelStore {
  readonly providers: ProviderChooser;
  private readonly diffusion = new Map<string, Promise<DiffusionModel>>();
  private readonly upscalers = new Map<string, Promise<LoadedUpscaler>>();
  private classifier: Promise<LoadedClassifier | undefined> | undefined;

  constructor(
    readonly settings: EngineSettings,
    readonly catalog: Registry,
    logger: Logger,
  ) {
    this.providers = new ProviderChooser(settings.providers, logger, settings.threads);
  }

  /** The loaded model and how long this call spent loading it (0 when it was resident). */
  async diffusionModel(
    entry: ModelEntry,
    needsImageEncoder: boolean,
  ): Promise<{ model: DiffusionModel; loadMs: number }> {
    const dir = requireModelFolder(entry, this.settings.modelsDir, needsImageEncoder);
    let pending = this.diffusion.get(entry.id);
    const fresh = pending === undefined;
    if (pending === undefined) {
      pending = loadDiffusionModel(entry.id, dir, this.providers);
      this.diffusion.set(entry.id, pending);
      pending.catch(() => this.diffusion.delete(entry.id));
    }
    const model = await pending;
    return { model, loadMs: fresh ? model.loadMs : 0 };
  }

  /** The first installed upscaler of the catalog (or the one named), if any. */
  async upscaler(named?: ModelEntry): Promise<LoadedUpscaler | undefined> {
    const candidates =
      named !== undefined ? [named] : this.catalog.models.filter((m) => m.kind === 'upscaler');
    for (const entry of candidates) {
      let dir: string;
      try {
        dir = requireModelFolder(entry, this.settings.modelsDir);
      } catch (error) {
        if (named !== undefined) throw error;
        continue;
      }
      let pending = this.upscalers.get(entry.id);
      if (pending === undefined) {
        const file = existsSync(join(dir, 'model.onnx'))
          ? join(dir, 'model.onnx')
          : join(dir, 'onnx', 'model.onnx');
        pending = this.providers.open(file, `${entry.folder}/model.onnx`);
        this.upscalers.set(entry.id, pending);
        pending.catch(() => this.upscalers.delete(entry.id));
      }
      return pending;
    }
    return undefined;
  }

  /** MODELS_DIR/nsfw-classifier, when installed. */
  nsfwClassifier(): Promise<LoadedClassifier | undefined> {
    this.classifier ??= this.loadClassifier();
    this.classifier.catch(() => {
      this.classifier = undefined;
    });
    return this.classifier;
  }

  /** Whether pictures of this model can be screened: its own safety checker or the classifier. */
  hasNsfwChecker(entry: ModelEntry): boolean {
    const own = join(modelFolder(entry, this.settings.modelsDir), 'safety_checker', 'model.onnx');
    return (entry.kind !== 'upscaler' && existsSync(own)) || this.hasNsfwClassifier();
  }

  hasNsfwClassifier(): boolean {
    const dir = join(this.settings.modelsDir, CLASSIFIER_FOLDER);
    return existsSync(join(dir, 'model.onnx')) || existsSync(join(dir, 'onnx', 'model.onnx'));
  }

  async release(): Promise<void> {
    const models = await Promise.allSettled([...this.diffusion.values()]);
    const upscalers = await Promise.allSettled([...this.upscalers.values()]);
    const classifier = await Promise.allSettled(this.classifier ? [this.classifier] : []);
    this.diffusion.clear();
    this.upscalers.clear();
    this.classifier = undefined;
    for (const m of models) if (m.status === 'fulfilled') await m.value.release();
    for (const u of upscalers) if (u.status === 'fulfilled') await u.value.session.release();
    for (const c of classifier) if (c.status === 'fulfilled' && c.value) await c.value.session.release();
  }

  private async loadClassifier(): Promise<LoadedClassifier | undefined> {
    if (!this.hasNsfwClassifier()) return undefined;
    const dir = join(this.settings.modelsDir, CLASSIFIER_FOLDER);
    const file = existsSync(join(dir, 'model.onnx'))
      ? join(dir, 'model.onnx')
      : join(dir, 'onnx', 'model.onnx');
    const config = await readJsonOr(join(dir, 'config.json'), {});
    const pre = await readJsonOr(join(dir, 'preprocessor_config.json'), {});
    const id2label = (config.id2label ?? {}) as Record<string, string>;
    const labels: string[] = [];
    for (const [index, label] of Object.entries(id2label)) labels[Number(index)] = String(label);
    if (labels.length < 2) {
      throw new CodedError('model-invalid', `${dir}/config.json needs id2label with the classifier's labels`);
    }
    const size = pre.size as { height?: number; shortest_edge?: number } | number | undefined;
    const { session, provider } = await this.providers.open(file, `${CLASSIFIER_FOLDER}/model.onnx`);
    return {
      session,
      provider,
      labels,
      mean: (pre.image_mean as [number, number, number] | undefined) ?? [0.5, 0.5, 0.5],
      std: (pre.image_std as [number, number, number] | undefined) ?? [0.5, 0.5, 0.5],
      size: typeof size === 'number' ? size : (size?.height ?? size?.shortest_edge ?? 224),
    };
  }
}

async function readJsonOr(path: string, fallback: Record<string, unknown>): Promise<Record<string, unknown>> {
  if (!existsSync(path)) return fallback;
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new CodedError('model-invalid', `${path} is not valid JSON: ${(error as Error).message}`);
  }
}
