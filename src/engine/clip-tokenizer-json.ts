/**
 * Many Stable Diffusion ONNX exports ship CLIP's slow-tokenizer files (`vocab.json`, `merges.txt`)
 * and no `tokenizer.json`. This builds the `tokenizer.json` that transformers' CLIPConverter would
 * write from them (byte-level BPE with a `</w>` end-of-word suffix, NFC + whitespace + lowercase
 * normalisation, CLIP's split pattern, BOS/EOS around the text), so @huggingface/tokenizers loads it.
 */
export function clipTokenizerJson(
  vocab: Record<string, number>,
  mergesText: string,
  tokens: { bos: string; eos: string; unk: string },
): object {
  const merges = mergesText
    .split('\n')
    .map((line) => line.trim())
    // The first line of CLIP's merges.txt is a `#version` header.
    .filter((line) => line !== '' && !line.startsWith('#version'));
  const idOf = (token: string): number => {
    const id = vocab[token];
    if (id === undefined) throw new Error(`tokenizer vocab.json has no "${token}"`);
    return id;
  };
  const added = (token: string) => ({
    id: idOf(token),
    content: token,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const special = [...new Set([tokens.bos, tokens.eos, tokens.unk])].filter((t) => t in vocab);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: special.map(added),
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'NFC' },
        { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
        { type: 'Lowercase' },
      ],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: { Regex: "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" },
          behavior: 'Removed',
          invert: true,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [tokens.eos, idOf(tokens.eos)],
      cls: [tokens.bos, idOf(tokens.bos)],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: tokens.unk,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}
