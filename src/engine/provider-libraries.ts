import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The CUDA execution provider is not in onnxruntime-node's npm package: its libraries are
 * downloaded by the package's install step (`npm run install:cuda`), which easel's `allowScripts`
 * skips. Asking onnxruntime for `cuda` without them makes onnxruntime print an error-level line of
 * its own to stderr before the session fails, so easel looks for the files first and reports
 * the missing provider itself.
 */
const CUDA_LIBRARIES = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];

/** onnxruntime-node's native folder, where it loads provider libraries from. */
export function onnxruntimeBinaryDir(): string {
  const packageJson = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
  return join(dirname(packageJson), 'bin', 'napi-v6', process.platform, process.arch);
}

/**
 * Why `provider` cannot load on this machine, when that is known without asking onnxruntime;
 * undefined when onnxruntime has to be asked. Only Linux keeps CUDA in separate files we can check.
 */
export function missingProviderLibraries(
  provider: string,
  binaryDir = onnxruntimeBinaryDir(),
): string | undefined {
  if (provider !== 'cuda' || process.platform !== 'linux') return undefined;
  const missing = CUDA_LIBRARIES.filter((file) => !existsSync(join(binaryDir, file)));
  if (missing.length === 0) return undefined;
  return `the CUDA provider is not installed (${missing.join(', ')} missing in ${binaryDir})`;
}
