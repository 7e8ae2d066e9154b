// Checks that @huggingface/tokenizers (JS) tokenizes like the Python training did.
// Run from the repository root: node models/easel-mini/train/check_tokenizer.mjs
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";

const here = dirname(fileURLToPath(import.meta.url));
const tj = JSON.parse(readFileSync(join(here, "../tokenizer/tokenizer.json"), "utf8"));
const tc = JSON.parse(readFileSync(join(here, "../tokenizer/tokenizer_config.json"), "utf8"));
const vec = JSON.parse(readFileSync(join(here, "tokenizer-vectors.json"), "utf8"));
const tok = new Tokenizer(tj, tc);
let bad = 0;
for (const v of vec.vectors) {
  let ids = tok.encode(v.prompt).ids;
  // diffusers-style truncation: keep BOS + first 75 tokens + EOS, then pad with pad_token.
  if (ids.length > vec.max_length) ids = [...ids.slice(0, vec.max_length - 1), vec.eos_id];
  while (ids.length < vec.max_length) ids.push(vec.pad_id);
  const ok = JSON.stringify(ids) === JSON.stringify(v.input_ids);
  if (!ok) { bad++; console.log("MISMATCH", JSON.stringify(v.prompt), "\n js:", ids.join(","), "\n py:", v.input_ids.join(",")); }
}
console.log(`${vec.vectors.length - bad}/${vec.vectors.length} prompts match`);
process.exit(bad ? 1 : 0);
