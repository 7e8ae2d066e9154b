import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { CodedError } from '../../errors/coded-error.ts';

/** The parts of a TF.js `model.json` the converter reads. */
export interface TfjsModelJson {
  format?: string;
  modelTopology: unknown;
  weightsManifest: { paths: string[]; weights: TfjsWeightSpec[] }[];
}

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min?: number; scale?: number };
}

/** A TF.js model as read from disk: its model.json, every weight shard concatenated, and a digest of both. */
export interface TfjsModelFiles {
  modelJson: TfjsModelJson;
  weightData: Buffer;
  /** sha256 of model.json and the shards as read: keys the conversion cache. */
  sha256: string;
}

/**
 * Reads a TF.js model folder in either packaging: plain `model.json` + binary shards (UpscalerJS), or
 * nsfwjs's browserify wrappers (`model.min.js` exporting the model.json object, each
 * `group1-shardXofN.min.js` exporting its shard as a base64 string), which a bundler can import.
 */
export async function readTfjsModel(dir: string, what: string): Promise<TfjsModelFiles> {
  const hash = createHash('sha256');
  const wrapped = !existsSync(join(dir, 'model.json')) && existsSync(join(dir, 'model.min.js'));
  const modelJson = wrapped
    ? ((await readWrapped(join(dir, 'model.min.js'), what, hash)) as TfjsModelJson)
    : await readPlainJson(join(dir, 'model.json'), what, hash);
  checkManifest(modelJson, what);
  const shards: Buffer[] = [];
  for (const group of modelJson.weightsManifest) {
    for (const path of group.paths) {
      if (path.includes('/') || path.includes('\\') || path.startsWith('.')) {
        throw new CodedError('model-invalid', `${what}: weight shard path "${path}" leaves the model folder`);
      }
      if (wrapped) {
        const base64 = await readWrapped(join(dir, `${path}.min.js`), what, hash);
        if (typeof base64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) {
          throw new CodedError(
            'model-invalid',
            `${what}: ${path}.min.js does not hold a base64 weight shard`,
          );
        }
        shards.push(Buffer.from(base64, 'base64'));
      } else {
        const file = join(dir, path);
        if (!existsSync(file))
          throw new CodedError('model-invalid', `${what}: weight shard ${path} is missing`);
        const bytes = await readFile(file);
        hash.update(bytes);
        shards.push(bytes);
      }
    }
  }
  return { modelJson, weightData: Buffer.concat(shards), sha256: hash.digest('hex') };
}

async function readPlainJson(file: string, what: string, hash: ReturnType<typeof createHash>) {
  if (!existsSync(file)) throw new CodedError('model-invalid', `${what}: ${file} is missing`);
  const text = await readFile(file);
  hash.update(text);
  try {
    return JSON.parse(text.toString('utf8')) as TfjsModelJson;
  } catch (error) {
    throw new CodedError('model-invalid', `${what}: ${file} is not valid JSON (${(error as Error).message})`);
  }
}

/**
 * Evaluates a browserify wrapper in an empty context: it sees only `module` and `exports` (no
 * require, process or globals), has a second to run, and its export is all we take. Its object
 * literal uses JavaScript syntax (`!1` for false, unquoted keys), so it is not JSON.
 */
async function readWrapped(file: string, what: string, hash: ReturnType<typeof createHash>) {
  if (!existsSync(file)) throw new CodedError('model-invalid', `${what}: ${file} is missing`);
  const code = await readFile(file);
  hash.update(code);
  const module = { exports: {} as unknown };
  try {
    runInNewContext(code.toString('utf8'), { module, exports: module.exports }, { timeout: 5_000 });
  } catch (error) {
    throw new CodedError('model-invalid', `${what}: ${file} could not be read (${(error as Error).message})`);
  }
  // Through JSON: plain data of this realm (arrays made in the context fail `instanceof Array` here).
  return typeof module.exports === 'string' ? module.exports : JSON.parse(JSON.stringify(module.exports));
}

function checkManifest(json: TfjsModelJson, what: string): void {
  if (typeof json !== 'object' || json === null || json.modelTopology === undefined) {
    throw new CodedError('model-invalid', `${what}: model.json has no modelTopology`);
  }
  const groups = json.weightsManifest;
  const ok =
    Array.isArray(groups) &&
    groups.every(
      (g) =>
        Array.isArray(g.paths) &&
        g.paths.every((p) => typeof p === 'string') &&
        Array.isArray(g.weights) &&
        g.weights.every(
          (w) =>
            typeof w.name === 'string' &&
            Array.isArray(w.shape) &&
            w.shape.every((d) => Number.isInteger(d) && d >= 0) &&
            typeof w.dtype === 'string',
        ),
    );
  if (!ok) throw new CodedError('model-invalid', `${what}: model.json's weightsManifest is malformed`);
}
