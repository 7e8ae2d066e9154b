import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { CodedError } from '../errors/coded-error.ts';
import type { Logger } from '../log/logger.ts';
import { modelFolder, requireModelFolder } from '../models/model-folder.ts';
import type { ModelEntry, Registry } from '../models/registry.ts';
import type { RequestAddOns } from './add-ons/add-on-check.ts';
import {
  type AddOnParts,
  type AppliedAddOns,
  addOnKey,
  buildAddOnParts,
  hasAddOns,
  modelWithAddOns,
} from './add-ons/add-on-model.ts';
import { type DiffusionModel, loadDiffusionModel } from './diffusion-model.ts';
import { ProviderChooser, type ProviderName } from './execution-providers.ts';
import { createLoraSessionCache } from './lora/lora-sessions.ts';
import type { MemoryBoundedCache } from './lora/session-cache.ts';
import { type ConvertedNetwork, convertedNetwork, forgetConversion } from './tfjs/converted-network.ts';
import { type EsrganSize, esrganNetwork, type NpmNetwork, NSFWJS_MOBILENET_V2 } from './tfjs/npm-networks.ts';

export interface EngineSettings {
  modelsDir: string;
  providers: readonly ProviderName[];
  /** onnxruntime intra-op threads; 0 lets onnxruntime choose. */
  threads: number;
  builtin: BuiltinSettings;
  /**
   * Memory for sessions of LoRA/embedding combinations (LORA_CACHE_MB); a default of 4 GiB when not
   * given. A combination bigger than this is still built, used and then released.
   */
  addOnCacheBytes?: number;
  /** Bytes free for a model's weights; os.freemem() unless given (tests of the too-big refusal). */
  availableMemory?: () => number;
}

/** The networks easel converts from npm packages, used where no model of the operator's takes over. */
export interface BuiltinSettings {
  /** NSFW_CLASSIFIER: screens models without a safety_checker/ (and input images). */
  classifier: 'nsfwjs-mobilenet-v2' | 'none';
  /** UPSCALER: `lanczos` keeps Lanczos plus an img2img detail pass. */
  upscaler: `esrgan-${EsrganSize}` | 'lanczos';
  /** Where conversions are cached (DATA_DIR/converted-models). */
  cacheDir: string;
  /** A node_modules folder to take the packages from instead of easel's own (tests use damaged copies). */
  packagesDir?: string;
}

/** A converted network, loaded. */
export interface LoadedBuiltin {
  session: InferenceSession;
  provider: ProviderName;
  /** e.g. "nsfwjs 4.3.0 MobileNetV2" for logs and `easel doctor`. */
  network: NpmNetwork;
  receptiveRadius: number;
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

/** LORA_CACHE_MB's default: two SD 1.5 combinations in fp16, or one SDXL UNet's worth of patches. */
const DEFAULT_ADD_ON_CACHE_BYTES = 4096 * 1024 * 1024;

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
  private readonly builtins = new Map<string, Promise<LoadedBuiltin>>();
  /** Why a built-in network could not be loaded, by network id (cleared when a later load works). */
  private readonly builtinFailures = new Map<string, string>();
  private readonly addOnCache: MemoryBoundedCache<AddOnParts>;

  constructor(
    readonly settings: EngineSettings,
    readonly catalog: Registry,
    private readonly logger: Logger,
  ) {
    this.providers = new ProviderChooser(settings.providers, logger, settings.threads);
    this.addOnCache = createLoraSessionCache<AddOnParts>(
      settings.addOnCacheBytes ?? DEFAULT_ADD_ON_CACHE_BYTES,
    );
  }

  /**
   * Runs `use` with the model as these LoRAs and embeddings change it: sessions of the patched
   * parts, built on first use of the combination (the merge time is logged) and kept in a cache
   * bounded by LORA_CACHE_MB, least recently used evicted first.
   */
  async withAddOns<T>(
    model: DiffusionModel,
    addOns: RequestAddOns,
    logger: Logger,
    use: (model: DiffusionModel, applied: AppliedAddOns) => Promise<T>,
  ): Promise<T> {
    if (!hasAddOns(addOns)) return use(model, { reports: [], cached: false });
    return this.addOnCache.use(
      `${model.provider}|${addOnKey(model.id, addOns)}`,
      () => buildAddOnParts(model, addOns, this.providers.sessionOptions(model.provider), logger),
      (parts, cached) => use(modelWithAddOns(model, parts), { reports: parts.reports, cached }),
    );
  }

  /** Combinations whose sessions are cached, most recently used last (tests, benchmarks). */
  cachedAddOnKeys(): string[] {
    return this.addOnCache.keys();
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
      pending = loadDiffusionModel(
        entry.id,
        dir,
        this.providers,
        this.settings.availableMemory !== undefined ? { availableMemory: this.settings.availableMemory } : {},
      );
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

  /**
   * Whether pictures of this model can be screened: its own safety checker, the installed
   * classifier, or the built-in one unless it already failed to load.
   */
  hasNsfwChecker(entry: ModelEntry): boolean {
    const own = join(modelFolder(entry, this.settings.modelsDir), 'safety_checker', 'model.onnx');
    return (
      (entry.kind !== 'upscaler' && existsSync(own)) ||
      this.hasNsfwClassifier() ||
      this.hasBuiltinClassifier()
    );
  }

  hasBuiltinClassifier(): boolean {
    return this.settings.builtin.classifier !== 'none' && !this.builtinFailures.has(NSFWJS_MOBILENET_V2.id);
  }

  /** Why the configured built-in classifier cannot be used, once a load has failed. */
  builtinClassifierProblem(): string | undefined {
    return this.settings.builtin.classifier === 'none'
      ? undefined
      : this.builtinFailures.get(NSFWJS_MOBILENET_V2.id);
  }

  /** nsfwjs's MobileNetV2, converted (or taken from the cache) and loaded; undefined when NSFW_CLASSIFIER=none. */
  async builtinClassifier(): Promise<LoadedBuiltin | undefined> {
    if (this.settings.builtin.classifier === 'none') return undefined;
    return this.builtin(NSFWJS_MOBILENET_V2);
  }

  /** UpscalerJS's ESRGAN for this factor; undefined when UPSCALER=lanczos. */
  async builtinUpscaler(factor: 2 | 4): Promise<LoadedBuiltin | undefined> {
    const choice = this.settings.builtin.upscaler;
    if (choice === 'lanczos') return undefined;
    return this.builtin(esrganNetwork(choice.slice('esrgan-'.length) as EsrganSize, factor));
  }

  /**
   * Loads every configured built-in network now (the worker's start-up), so a missing package,
   * corrupted weights or a layer the converter does not know is reported before the first job.
   * Returns one problem line per network that failed.
   */
  async prepareBuiltins(): Promise<string[]> {
    const loads: Promise<unknown>[] = [this.builtinClassifier()];
    if (this.settings.builtin.upscaler !== 'lanczos')
      loads.push(this.builtinUpscaler(2), this.builtinUpscaler(4));
    const settled = await Promise.allSettled(loads);
    return settled.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
  }

  private builtin(network: NpmNetwork): Promise<LoadedBuiltin> {
    let pending = this.builtins.get(network.id);
    if (pending === undefined) {
      pending = this.loadBuiltin(network);
      this.builtins.set(network.id, pending);
      pending.then(
        () => this.builtinFailures.delete(network.id),
        (error: unknown) => {
          this.builtins.delete(network.id);
          this.builtinFailures.set(network.id, (error as Error).message);
        },
      );
    }
    return pending;
  }

  private async loadBuiltin(network: NpmNetwork): Promise<LoadedBuiltin> {
    const { cacheDir, packagesDir } = this.settings.builtin;
    let converted: ConvertedNetwork = await convertedNetwork(network, cacheDir, packagesDir);
    const label = `${network.id} (converted from ${network.packageName})`;
    let opened: { session: InferenceSession; provider: ProviderName };
    try {
      opened = await this.providers.open(converted.path, label);
    } catch (error) {
      if (converted.converted) throw error;
      // A cached file onnxruntime cannot read (damaged on disk): convert again, once.
      await forgetConversion(converted);
      converted = await convertedNetwork(network, cacheDir, packagesDir);
      opened = await this.providers.open(converted.path, label);
    }
    this.logger.info(
      { network: network.id, provider: opened.provider, converted: converted.converted, ms: converted.ms },
      `built-in network ${network.id} loaded`,
    );
    return { ...opened, network, receptiveRadius: converted.receptiveRadius };
  }

  hasNsfwClassifier(): boolean {
    const dir = join(this.settings.modelsDir, CLASSIFIER_FOLDER);
    return existsSync(join(dir, 'model.onnx')) || existsSync(join(dir, 'onnx', 'model.onnx'));
  }

  async release(): Promise<void> {
    const models = await Promise.allSettled([...this.diffusion.values()]);
    const upscalers = await Promise.allSettled([...this.upscalers.values()]);
    const classifier = await Promise.allSettled(this.classifier ? [this.classifier] : []);
    const builtins = await Promise.allSettled([...this.builtins.values()]);
    this.diffusion.clear();
    this.upscalers.clear();
    this.builtins.clear();
    this.classifier = undefined;
    await this.addOnCache.clear();
    for (const b of builtins) if (b.status === 'fulfilled') await b.value.session.release();
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
