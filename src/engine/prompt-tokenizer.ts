import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { CodedError } from '../errors/coded-error.ts';
import { clipTokenizerJson } from './clip-tokenizer-json.ts';

export interface EncodedPrompt {
  /** Exactly `maxLength` ids: BOS, the prompt's tokens, EOS, then padding. */
  ids: number[];
  /** Words of the prompt that did not fit and were cut (the member is told). */
  truncatedWords: string[];
}

type TokenSpec = string | { content?: string } | null | undefined;

function tokenText(spec: TokenSpec): string | undefined {
  if (typeof spec === 'string') return spec;
  return spec?.content ?? undefined;
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CodedError('model-invalid', `${path} is not valid JSON: ${(error as Error).message}`);
  }
}

interface TokenizerSource {
  json: Record<string, unknown>;
  config: Record<string, unknown>;
  eos: string;
  pad: string;
}

/**
 * The model's tokenizer (`tokenizer/` of the model folder) with CLIP's fixed 77-token window:
 * diffusers-style truncation (BOS + the first 75 tokens + EOS) and padding with the configured pad
 * token, which @huggingface/tokenizers 0.2 does not apply itself.
 */
export class PromptTokenizer {
  private readonly eosId: number;
  private readonly padId: number;
  private readonly specialCount: number;

  private constructor(
    private readonly tokenizer: Tokenizer,
    readonly maxLength: number,
    private readonly source: TokenizerSource,
    private readonly rewrite: (text: string) => string = (text) => text,
  ) {
    const { eos, pad } = source;
    const eosId = tokenizer.token_to_id(eos);
    if (eosId === undefined) throw new CodedError('model-invalid', `tokenizer has no end token "${eos}"`);
    this.eosId = eosId;
    this.padId = tokenizer.token_to_id(pad) ?? eosId;
    this.specialCount = tokenizer.encode('').ids.length;
  }

  /** Loads `tokenizer.json` (or CLIP's `vocab.json` + `merges.txt`) and `tokenizer_config.json`. */
  static async load(dir: string, maxLength: number): Promise<PromptTokenizer> {
    const config = (await readJson(join(dir, 'tokenizer_config.json'))) ?? {};
    const eos = tokenText(config.eos_token as TokenSpec) ?? '<|endoftext|>';
    const bos = tokenText(config.bos_token as TokenSpec) ?? '<|startoftext|>';
    const unk = tokenText(config.unk_token as TokenSpec) ?? eos;
    const pad = tokenText(config.pad_token as TokenSpec) ?? eos;
    let json = await readJson(join(dir, 'tokenizer.json'));
    if (json === undefined) {
      const vocab = await readJson(join(dir, 'vocab.json'));
      const merges = await readFile(join(dir, 'merges.txt'), 'utf8').catch(() => undefined);
      if (vocab === undefined || merges === undefined) {
        throw new CodedError(
          'model-missing',
          `${dir} has neither tokenizer.json nor vocab.json + merges.txt`,
        );
      }
      try {
        json = clipTokenizerJson(vocab as Record<string, number>, merges, { bos, eos, unk }) as Record<
          string,
          unknown
        >;
      } catch (error) {
        throw new CodedError('model-invalid', `${dir}: ${(error as Error).message}`);
      }
    }
    const configured = typeof config.model_max_length === 'number' ? config.model_max_length : maxLength;
    try {
      const source: TokenizerSource = { json, config, eos, pad };
      return new PromptTokenizer(new Tokenizer(json, config), Math.min(configured, maxLength), source);
    } catch (error) {
      if (error instanceof CodedError) throw error;
      throw new CodedError(
        'model-invalid',
        `${dir}: tokenizer could not be loaded: ${(error as Error).message}`,
      );
    }
  }

  /** The tokenizer.json this tokenizer was built from (CLIP's vocab.json + merges.txt turned into one). */
  get tokenizerJson(): Record<string, unknown> {
    return this.source.json;
  }

  /**
   * The same tokenizer over an extended tokenizer.json (an embedding's added tokens), reading each
   * text through `rewrite` first (an embedding's name standing for all of its tokens).
   */
  extended(json: Record<string, unknown>, rewrite: (text: string) => string): PromptTokenizer {
    const source = { ...this.source, json };
    return new PromptTokenizer(new Tokenizer(json, source.config), this.maxLength, source, rewrite);
  }

  encode(written: string): EncodedPrompt {
    const text = this.rewrite(written);
    let ids = this.tokenizer.encode(text).ids;
    let truncatedWords: string[] = [];
    if (ids.length > this.maxLength) {
      ids = [...ids.slice(0, this.maxLength - 1), this.eosId];
      truncatedWords = this.wordsPast(text, this.maxLength - this.specialCount);
    }
    const padded = [...ids];
    while (padded.length < this.maxLength) padded.push(this.padId);
    return { ids: padded, truncatedWords };
  }

  /** The words (split on whitespace) whose tokens end past the first `budget` tokens. */
  private wordsPast(text: string, budget: number): string[] {
    const words = text.split(/\s+/).filter(Boolean);
    let used = 0;
    const cut: string[] = [];
    for (const word of words) {
      used += this.tokenizer.encode(word, { add_special_tokens: false }).ids.length;
      if (used > budget) cut.push(word);
    }
    return cut;
  }
}
