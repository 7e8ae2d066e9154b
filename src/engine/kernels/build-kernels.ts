import { readFile, rename, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import wabt from 'wabt';

/**
 * Assembles kernels.wat into the kernels.wasm the engine loads (npm run build:kernels).
 * wabt is a development dependency: the binary is committed, and a test checks that it is what this
 * assembles from the text, so the two cannot drift apart.
 */
export const KERNELS_WAT = new URL('./kernels.wat', import.meta.url);
/** What kernels.ts loads (not imported from it: that would load the binary being rebuilt). */
export const KERNELS_WASM = new URL('./kernels.wasm', import.meta.url);

export async function assembleKernels(): Promise<Uint8Array> {
  const toolkit = await wabt();
  const module = toolkit.parseWat('kernels.wat', await readFile(KERNELS_WAT, 'utf8'), { simd: true });
  try {
    module.validate();
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const binary = await assembleKernels();
  const target = fileURLToPath(KERNELS_WASM);
  // Written whole, then renamed: an interrupted build leaves the previous binary.
  await writeFile(`${target}.partial`, binary);
  await rename(`${target}.partial`, target);
  console.log(`wrote ${target} (${binary.length} bytes)`);
}
