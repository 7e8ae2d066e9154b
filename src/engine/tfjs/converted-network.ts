import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CodedError } from '../../errors/coded-error.ts';
import { kerasLayersToOnnx } from './keras-layers-to-onnx.ts';
import { type NpmNetwork, packageDir } from './npm-networks.ts';
import { readTfjsModel } from './tfjs-model-files.ts';
import { decodeTfjsWeights } from './tfjs-weights.ts';

/** Bumped whenever the converter's output changes, so older cached conversions are not reused. */
export const CONVERTER_REVISION = 1;

export interface ConvertedNetwork {
  network: NpmNetwork;
  /** The ONNX file onnxruntime loads. */
  path: string;
  receptiveRadius: number;
  /** Whether this call converted (false: found in the cache). */
  converted: boolean;
  ms: number;
}

/**
 * The ONNX conversion of a network from an npm package, converted on first use and cached in
 * `cacheDir` under a name keyed by the network, the package version, a sha256 of the package's
 * model files and the converter's revision; a changed or damaged package misses the cache and is
 * converted (or refused) again. Files are written to a temporary name and renamed, so processes
 * converting at once never read half a file.
 */
export async function convertedNetwork(
  network: NpmNetwork,
  cacheDir: string,
  packagesDir?: string,
): Promise<ConvertedNetwork> {
  const started = performance.now();
  const { dir, version } = packageDir(network, packagesDir);
  if (!existsSync(dir)) {
    throw new CodedError('model-invalid', `${network.id}: ${dir} is missing from ${network.packageName}`);
  }
  const digest = await folderDigest(dir);
  const base = join(cacheDir, `${network.id}-${version}-${digest.slice(0, 16)}-r${CONVERTER_REVISION}`);
  const onnxPath = `${base}.onnx`;
  const metaPath = `${base}.json`;
  if (existsSync(onnxPath) && existsSync(metaPath)) {
    const radius = await cachedRadius(metaPath);
    if (radius !== undefined) {
      return { network, path: onnxPath, receptiveRadius: radius, converted: false, ms: elapsed(started) };
    }
  }
  const what = `${network.packageName} ${version} (${network.folder})`;
  const files = await readTfjsModel(dir, what);
  const graph = kerasLayersToOnnx(
    files.modelJson.modelTopology,
    decodeTfjsWeights(files, what),
    network.ends,
    what,
  );
  await mkdir(cacheDir, { recursive: true });
  // The metadata first: an .onnx is only ever taken from the cache with its metadata beside it.
  await writeAtomically(
    metaPath,
    JSON.stringify({ receptiveRadius: graph.receptiveRadius, sha256: digest, source: what }),
  );
  await writeAtomically(onnxPath, graph.bytes);
  return {
    network,
    path: onnxPath,
    receptiveRadius: graph.receptiveRadius,
    converted: true,
    ms: elapsed(started),
  };
}

/** Removes a cached conversion that onnxruntime could not load, so the next try converts afresh. */
export async function forgetConversion(converted: ConvertedNetwork): Promise<void> {
  await rm(converted.path, { force: true });
  await rm(converted.path.replace(/\.onnx$/, '.json'), { force: true });
}

async function cachedRadius(metaPath: string): Promise<number | undefined> {
  try {
    const meta = JSON.parse(await readFile(metaPath, 'utf8')) as { receptiveRadius?: unknown };
    return typeof meta.receptiveRadius === 'number' ? meta.receptiveRadius : undefined;
  } catch {
    return undefined;
  }
}

async function folderDigest(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const files = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  for (const name of files.sort()) {
    hash.update(`${name}\0`);
    hash.update(await readFile(join(dir, name)));
  }
  return hash.digest('hex');
}

async function writeAtomically(path: string, data: string | Uint8Array): Promise<void> {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, data);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
