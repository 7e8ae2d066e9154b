import { CodedError } from '../../errors/coded-error.ts';
import { encodeFloats, type OnnxModelWeights, type PatchedTensor } from '../lora/onnx-model-weights.ts';
import type { EncoderPart, TextualInversion } from './textual-inversion.ts';

/** The token table of a CLIP text encoder, as Optimum exports it. */
export const TOKEN_EMBEDDING = 'text_model.embeddings.token_embedding.weight';

/** The tokens an embedding of `count` vectors takes: `name`, `name_1`, `name_2`, … (as diffusers names them). */
function embeddingTokens(name: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => (i === 0 ? name : `${name}_${i}`));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** An embedding's name as a word of a prompt (not part of a longer word). */
function embeddingWord(name: string): RegExp {
  return new RegExp(`(?<![\\w-])${escapeRegExp(name)}(?![\\w-])`, 'g');
}

/** Whether a prompt names the embedding, which is how A1111 decides to use one. */
export function mentionsEmbedding(prompt: string, name: string): boolean {
  return embeddingWord(name).test(prompt);
}

/** The prompt with each embedding's name standing for all of its tokens, as A1111 reads it. */
export function expandEmbeddingNames(prompt: string, inversions: { name: string; count: number }[]): string {
  let out = prompt;
  for (const { name, count } of inversions) {
    if (count < 2) continue;
    out = out.replace(embeddingWord(name), embeddingTokens(name, count).join(' '));
  }
  return out;
}

interface TokenizerJson {
  added_tokens?: { id: number; content: string }[];
  model?: { vocab?: Record<string, number> | [string, number][] };
}

function knownIds(json: TokenizerJson): { words: Set<string>; next: number } {
  const words = new Set<string>();
  let next = 0;
  const vocab = json.model?.vocab;
  const entries = Array.isArray(vocab)
    ? vocab.map(([word], id) => [word, id] as const)
    : Object.entries(vocab ?? {});
  for (const [word, id] of entries) {
    words.add(word);
    next = Math.max(next, id + 1);
  }
  for (const token of json.added_tokens ?? []) {
    words.add(token.content);
    next = Math.max(next, token.id + 1);
  }
  return { words, next };
}

export interface ExtendedEncoder {
  /** The tokenizer.json with the embeddings' tokens added. */
  tokenizerJson: object;
  /** The longer token table of the text encoder. */
  patches: Map<string, PatchedTensor>;
  /** Each embedding's token ids, by name. */
  ids: Map<string, number[]>;
}

/**
 * Adds embeddings to one CLIP text encoder and its tokenizer: each vector becomes a row of the
 * token table (after the rows the tokenizer already uses) and a token that the tokenizer never
 * splits. A vector of another width (an SD 1.x embedding on SD 2.x) is refused.
 */
export async function addTextualInversions(
  tokenizerJson: object,
  encoder: OnnxModelWeights,
  part: EncoderPart,
  inversions: TextualInversion[],
): Promise<ExtendedEncoder> {
  const table = encoder.initializers.get(TOKEN_EMBEDDING);
  if (table === undefined || table.dims.length !== 2) {
    throw new CodedError(
      'model-invalid',
      `${encoder.path} has no ${TOKEN_EMBEDDING} [tokens, width] to add embeddings to`,
    );
  }
  const [rows, width] = table.dims as [number, number];
  const json = structuredClone(tokenizerJson) as TokenizerJson;
  const { words, next } = knownIds(json);
  const first = Math.max(rows, next);
  const added: Float32Array[] = [];
  const ids = new Map<string, number[]>();
  json.added_tokens ??= [];
  for (const inversion of inversions) {
    const vectors = inversion.vectors[part];
    if (vectors === undefined) {
      throw new CodedError(
        'model-invalid',
        `embedding "${inversion.name}" has no vectors for ${part}: it is for another model family`,
      );
    }
    const wrong = vectors.find((v) => v.length !== width);
    if (wrong !== undefined) {
      throw new CodedError(
        'model-invalid',
        `embedding "${inversion.name}" has ${wrong.length}-wide vectors but ${part}'s tokens are ${width} wide: it is for another model family`,
      );
    }
    const tokens = embeddingTokens(inversion.name, vectors.length);
    const clash = tokens.find((t) => words.has(t));
    if (clash !== undefined)
      throw new CodedError(
        'model-invalid',
        `embedding "${inversion.name}": "${clash}" is already a token of the tokenizer`,
      );
    const tokenIds = tokens.map((content, i) => {
      const id = first + added.length + i;
      json.added_tokens!.push({
        id,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: false,
      } as never);
      words.add(content);
      return id;
    });
    added.push(...vectors);
    ids.set(inversion.name, tokenIds);
  }
  const values = new Float32Array((first + added.length) * width);
  values.set(await encoder.readFloat32(TOKEN_EMBEDDING));
  for (const [i, vector] of added.entries()) values.set(vector, (first + i) * width);
  const patch: PatchedTensor = {
    dataType: table.dataType,
    dims: [first + added.length, width],
    bytes: encodeFloats(values, table.dataType),
  };
  return { tokenizerJson: json, patches: new Map([[TOKEN_EMBEDDING, patch]]), ids };
}
