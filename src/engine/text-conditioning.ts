import { CodedError } from '../errors/coded-error.ts';
import type { DiffusionModel } from './diffusion-model.ts';
import { outputOf, runPart, toIdsInput } from './onnx-io.ts';

export interface TextConditioning {
  /** The prompt's hidden states, [tokens * width]. */
  cond: Float32Array;
  /** The negative prompt's (the unconditional half of classifier-free guidance). */
  uncond: Float32Array;
  tokens: number;
  width: number;
  /** Words of the prompt cut past the tokenizer's window. */
  truncatedWords: string[];
}

/**
 * Tokenizes the prompt and the negative prompt and encodes both in one text encoder run (two runs
 * when the encoder was exported with a fixed batch of one).
 */
export async function encodeText(
  model: DiffusionModel,
  prompt: string,
  negativePrompt: string,
): Promise<TextConditioning> {
  const positive = model.tokenizer.encode(prompt);
  const negative = model.tokenizer.encode(negativePrompt);
  const tokens = model.tokenizer.maxLength;
  const spec = model.textEncoder.inputs.input_ids!;
  const run = async (ids: number[], batch: number) => {
    const result = await runPart(model.textEncoder.session, 'text_encoder', {
      input_ids: toIdsInput(spec, ids, [batch, tokens]),
    });
    const out = outputOf(result, 'text_encoder', model.textEncoder.output);
    if (out.dims.length !== 3 || out.dims[0] !== batch || out.dims[1] !== tokens) {
      throw new CodedError(
        'model-invalid',
        `text_encoder/model.onnx output "${model.textEncoder.output}" has shape [${out.dims.join(', ')}], ` +
          `expected [${batch}, ${tokens}, hidden]`,
      );
    }
    return out;
  };
  let uncond: Float32Array;
  let cond: Float32Array;
  let width: number;
  if (spec.shape[0] === 1) {
    const a = await run(negative.ids, 1);
    const b = await run(positive.ids, 1);
    uncond = a.data;
    cond = b.data;
    width = a.dims[2]!;
  } else {
    const both = await run([...negative.ids, ...positive.ids], 2);
    width = both.dims[2]!;
    uncond = both.data.slice(0, tokens * width);
    cond = both.data.slice(tokens * width);
  }
  return { uncond, cond, tokens, width, truncatedWords: positive.truncatedWords };
}
