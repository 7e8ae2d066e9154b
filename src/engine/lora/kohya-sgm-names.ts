/**
 * kohya trains SDXL on Stability's own UNet, whose blocks are `input_blocks`, `middle_block` and
 * `output_blocks` (SD 1.x LoRAs use diffusers' names already). Diffusers' UNet — the one Optimum
 * exports — groups the same layers as `down_blocks.N.{resnets,attentions,downsamplers}`, so an SGM
 * name is renamed to the diffusers one before it is looked up. Every Stable Diffusion UNet has two
 * layers per block: Stability's input block 3b+1+j is diffusers' down block b, layer j, and its
 * input block 3b+3 holds that block's downsampler. The names are the flattened ones (underscores).
 */
const LAYERS_PER_BLOCK = 2;

/** Stability's resnet layers by the index inside their Sequential, diffusers' by name. */
function resnetLayer(rest: string): string {
  return rest
    .replace(/^in_layers_2/, 'conv1')
    .replace(/^out_layers_3/, 'conv2')
    .replace(/^emb_layers_1/, 'time_emb_proj')
    .replace(/^skip_connection/, 'conv_shortcut');
}

const TOP_LEVEL: [RegExp, string][] = [
  [/^input_blocks_0_0(?=_|$)/, 'conv_in'],
  [/^out_2(?=_|$)/, 'conv_out'],
  [/^time_embed_0(?=_|$)/, 'time_embedding_linear_1'],
  [/^time_embed_2(?=_|$)/, 'time_embedding_linear_2'],
  [/^label_emb_0_0(?=_|$)/, 'add_embedding_linear_1'],
  [/^label_emb_0_2(?=_|$)/, 'add_embedding_linear_2'],
];

/**
 * The diffusers flattened name of an SGM flattened name, or undefined when it is not one.
 * `hasAttention(block, layer)` says whether the model's up block has that attention: an output
 * block's second part is its attention where there is one and its upsampler where there is not.
 */
export function sgmToDiffusersFlat(
  name: string,
  hasAttention: (block: number, layer: number) => boolean,
): string | undefined {
  for (const [pattern, replacement] of TOP_LEVEL)
    if (pattern.test(name)) return name.replace(pattern, replacement);
  const group = LAYERS_PER_BLOCK + 1;
  const input = /^input_blocks_(\d+)_(\d+)_(.+)$/.exec(name);
  if (input) {
    const [n, part, rest] = [Number(input[1]), Number(input[2]), input[3]!];
    const block = Math.floor((n - 1) / group);
    const layer = (n - 1) % group;
    if (layer === LAYERS_PER_BLOCK && rest.startsWith('op'))
      return `down_blocks_${block}_downsamplers_0_${rest.replace(/^op/, 'conv')}`;
    if (part === 0) return `down_blocks_${block}_resnets_${layer}_${resnetLayer(rest)}`;
    if (part === 1) return `down_blocks_${block}_attentions_${layer}_${rest}`;
    return undefined;
  }
  const middle = /^middle_block_(\d)_(.+)$/.exec(name);
  if (middle) {
    const [part, rest] = [Number(middle[1]), middle[2]!];
    if (part === 1) return `mid_block_attentions_0_${rest}`;
    if (part === 0 || part === 2) return `mid_block_resnets_${part / 2}_${resnetLayer(rest)}`;
    return undefined;
  }
  const output = /^output_blocks_(\d+)_(\d+)_(.+)$/.exec(name);
  if (output) {
    const [n, part, rest] = [Number(output[1]), Number(output[2]), output[3]!];
    const block = Math.floor(n / group);
    const layer = n % group;
    if (part === 0) return `up_blocks_${block}_resnets_${layer}_${resnetLayer(rest)}`;
    if (part === 1 && hasAttention(block, layer)) return `up_blocks_${block}_attentions_${layer}_${rest}`;
    if (part === 1 || part === 2) return `up_blocks_${block}_upsamplers_0_${rest}`;
  }
  return undefined;
}
