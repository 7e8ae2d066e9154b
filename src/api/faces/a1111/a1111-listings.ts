import type { AddOnListing } from '../../../engine/add-ons/add-on-listing.ts';
import { A1111_SAMPLERS } from '../../../engine/infotext.ts';
import type { ModelListing } from '../../../models/model-listing.ts';
import { SAMPLERS } from '../../../request/types.ts';

/**
 * What AUTOMATIC1111 lists under `/sdapi/v1/`, in its item shapes (`SamplerItem`, `SchedulerItem`,
 * `SDModelItem`, `UpscalerItem`, `EmbeddingsResponse`, LoRA items): easel's samplers under A1111's
 * display names, its installed checkpoints, and empty lists for what easel does not have yet.
 */

/** `SamplerItem`: Karras variants say so in `options.scheduler`, as A1111 before 1.9 did. */
export function a1111Samplers(): { name: string; aliases: string[]; options: Record<string, string> }[] {
  return SAMPLERS.map((sampler) => ({
    name: A1111_SAMPLERS[sampler],
    aliases: [sampler],
    options: (sampler.endsWith('_karras') ? { scheduler: 'karras' } : {}) as Record<string, string>,
  }));
}

/** `SchedulerItem`: `automatic` keeps each sampler's own sigmas; `karras` picks its Karras variant. */
export function a1111Schedulers(): {
  name: string;
  label: string;
  aliases: string[] | null;
  default_rho: number;
  need_inner_model: boolean;
}[] {
  return [
    { name: 'automatic', label: 'Automatic', aliases: null, default_rho: -1, need_inner_model: false },
    { name: 'karras', label: 'Karras', aliases: null, default_rho: 7, need_inner_model: false },
  ];
}

/**
 * `SDModelItem` for each installed generating model; `title` is what `sd_model_checkpoint` takes. File
 * names are the model ids: the server's folders are none of a client's business.
 */
export function a1111Models(models: ModelListing[]): {
  title: string;
  model_name: string;
  hash: null;
  sha256: null;
  filename: string;
  config: null;
}[] {
  return models
    .filter((m) => m.installed && m.kind !== 'upscaler')
    .map((m) => ({ title: m.id, model_name: m.id, hash: null, sha256: null, filename: m.id, config: null }));
}

/** `UpscalerItem`: A1111's "None", then the installed upscaler models. */
export function a1111Upscalers(models: ModelListing[]): {
  name: string;
  model_name: string | null;
  model_path: string | null;
  model_url: null;
  scale: number | null;
}[] {
  return [
    { name: 'None', model_name: null, model_path: null, model_url: null, scale: 4 },
    ...models
      .filter((m) => m.installed && m.kind === 'upscaler')
      .map((m) => ({ name: m.id, model_name: m.id, model_path: null, model_url: null, scale: null })),
  ];
}

/** `/sdapi/v1/options`: the settings easel has, `sd_model_checkpoint` being the key's own default. */
export function a1111Options(checkpoint: string): Record<string, unknown> {
  return {
    sd_model_checkpoint: checkpoint,
    sd_checkpoint_hash: null,
    sd_vae: 'Automatic',
    CLIP_stop_at_last_layers: 1,
    samples_format: 'png',
    eta_noise_seed_delta: 0,
  };
}

/** `/sdapi/v1/loras`: A1111's items (`name`, `alias`, `path`, `metadata`); the path is the file's name only. */
export function a1111Loras(loras: AddOnListing[]): {
  name: string;
  alias: string;
  path: string;
  metadata: Record<string, string>;
}[] {
  return loras
    .filter((l) => l.problem === undefined)
    .map((l) => ({
      name: l.name,
      alias: l.name,
      path: l.file,
      metadata: (l.baseModel !== undefined ? { ss_base_model_version: l.baseModel } : {}) as Record<
        string,
        string
      >,
    }));
}

interface A1111Embedding {
  step: null;
  sd_checkpoint: null;
  sd_checkpoint_name: null;
  shape: number;
  vectors: number;
}

/** `/sdapi/v1/embeddings`: readable ones under `loaded`, broken files under `skipped`, by name. */
export function a1111Embeddings(embeddings: AddOnListing[]): {
  loaded: Record<string, A1111Embedding>;
  skipped: Record<string, A1111Embedding>;
} {
  const item = (e: AddOnListing): A1111Embedding => ({
    step: null,
    sd_checkpoint: null,
    sd_checkpoint_name: null,
    shape: e.widths?.[0] ?? 0,
    vectors: e.vectors ?? 0,
  });
  const loaded: Record<string, A1111Embedding> = {};
  const skipped: Record<string, A1111Embedding> = {};
  for (const e of embeddings) (e.problem === undefined ? loaded : skipped)[e.name] = item(e);
  return { loaded, skipped };
}
