/**
 * The names LoRA files give their tensors, in the three formats in the wild, reduced to one shape:
 * which model part, which module, and whether the tensor is the down or up matrix or the alpha.
 *
 * - kohya (sd-scripts, A1111): `lora_unet_<flat name>.lora_down.weight`, `lora_te_…` (SD 1.x/2.x),
 *   `lora_te1_…`/`lora_te2_…` (SDXL), `.alpha`. The module name has its dots flattened to
 *   underscores, so it is matched against the model's flattened module names rather than unflattened
 *   (module names have underscores of their own).
 * - diffusers: `unet.<path>.lora.down.weight`, attention processors' `…attn1.processor.to_q_lora.down.weight`,
 *   text encoders' `text_encoder.<path>.lora_linear_layer.down.weight`, and the newer `lora_A`/`lora_B`.
 * - PEFT: `base_model.model.<path>.lora_A.weight` (also `.lora_A.default.weight`).
 */
export type LoraComponent = 'unet' | 'text_encoder' | 'text_encoder_2';
export type LoraRole = 'down' | 'up' | 'alpha';

export interface LoraKey {
  component: LoraComponent;
  /** A module path (diffusers, PEFT), or kohya's flattened name when `flat`. */
  module: string;
  flat: boolean;
  role: LoraRole;
  /** The key's leading part, for reports of what did not match: `lora_te2`, `unet`, … */
  prefix: string;
}

/** Tensors of LoRA variants easel does not merge (LyCORIS LoHa, LoKr, Tucker mid, DoRA). */
export interface UnsupportedLoraKey {
  unsupported: string;
  prefix: string;
}

const KOHYA = /^lora_(unet|te1|te2|te)_(.+?)\.(lora_down\.weight|lora_up\.weight|alpha)$/;
const LYCORIS =
  /^(lora_(?:unet|te1|te2|te))_.+?\.(lora_mid\.weight|hada_\w+|lokr_\w+|dora_scale|diff|diff_b)$/;
const DIFFUSERS_SUFFIX =
  /^(.+?)\.(lora\.down\.weight|lora\.up\.weight|lora_linear_layer\.down\.weight|lora_linear_layer\.up\.weight|lora_A(?:\.default)?\.weight|lora_B(?:\.default)?\.weight|lora_down\.weight|lora_up\.weight|down\.weight|up\.weight|alpha)$/;

const KOHYA_COMPONENT: Record<string, LoraComponent> = {
  unet: 'unet',
  te: 'text_encoder',
  te1: 'text_encoder',
  te2: 'text_encoder_2',
};

/** Attention-processor LoRAs name the projection, not the module: `to_q_lora` patches `to_q`. */
const UNET_PROCESSOR_NAMES: Record<string, string> = {
  to_q_lora: 'to_q',
  to_k_lora: 'to_k',
  to_v_lora: 'to_v',
  to_out_lora: 'to_out.0',
};
const TEXT_PROCESSOR_NAMES: Record<string, string> = {
  to_q_lora: 'q_proj',
  to_k_lora: 'k_proj',
  to_v_lora: 'v_proj',
  to_out_lora: 'out_proj',
};

function roleOf(suffix: string): LoraRole {
  if (suffix === 'alpha') return 'alpha';
  return /(down|lora_A)/.test(suffix) ? 'down' : 'up';
}

export function parseLoraKey(key: string): LoraKey | UnsupportedLoraKey | undefined {
  const kohya = KOHYA.exec(key);
  if (kohya) {
    const [, part, module, suffix] = kohya as unknown as [string, string, string, string];
    return {
      component: KOHYA_COMPONENT[part]!,
      module,
      flat: true,
      role: roleOf(suffix),
      prefix: `lora_${part}`,
    };
  }
  const lycoris = LYCORIS.exec(key);
  if (lycoris) return { unsupported: lycoris[2]!, prefix: lycoris[1]! };

  const diffusers = DIFFUSERS_SUFFIX.exec(key);
  if (!diffusers) return undefined;
  const [, path, suffix] = diffusers as unknown as [string, string, string];
  let component: LoraComponent;
  let prefix: string;
  let rest: string;
  if (path.startsWith('text_encoder_2.'))
    [component, prefix, rest] = ['text_encoder_2', 'text_encoder_2', path.slice(15)];
  else if (path.startsWith('text_encoder.'))
    [component, prefix, rest] = ['text_encoder', 'text_encoder', path.slice(13)];
  else if (path.startsWith('unet.')) [component, prefix, rest] = ['unet', 'unet', path.slice(5)];
  else if (path.startsWith('base_model.model.')) {
    rest = path.slice(17);
    component = rest.startsWith('text_model.') ? 'text_encoder' : 'unet';
    prefix = 'base_model.model';
  } else return undefined;
  const names = component === 'unet' ? UNET_PROCESSOR_NAMES : TEXT_PROCESSOR_NAMES;
  const parts = rest.split('.').filter((p) => p !== 'processor');
  const last = parts.at(-1)!;
  if (names[last] !== undefined) parts.splice(-1, 1, names[last]);
  return { component, module: parts.join('.'), flat: false, role: roleOf(suffix), prefix };
}
