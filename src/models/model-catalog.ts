import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CodedError } from '../errors/coded-error.ts';
import { loadRegistry, type ModelEntry, PACKAGE_MODELS_DIR, type Registry } from './registry.ts';

/** The registry file operators keep in MODELS_DIR for models the package does not list. */
export const LOCAL_REGISTRY_FILE = 'registry.json';

/**
 * The models this deployment knows: the package's registry, plus MODELS_DIR/registry.json when
 * MODELS_DIR is elsewhere (entries there add models or replace the package's entry of the same id),
 * so an operator adds a model without editing the package.
 */
export function loadCatalog(modelsDir: string): Registry {
  const base = loadRegistry();
  const localFile = join(resolve(modelsDir), LOCAL_REGISTRY_FILE);
  if (resolve(modelsDir) === resolve(PACKAGE_MODELS_DIR) || !existsSync(localFile)) return base;
  let local: Registry;
  try {
    local = JSON.parse(readFileSync(localFile, 'utf8')) as Registry;
  } catch (error) {
    throw new CodedError('config-invalid', `${localFile} is not valid JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(local.models)) {
    throw new CodedError('config-invalid', `${localFile} must hold {"models": [...]}`);
  }
  const byId = new Map<string, ModelEntry>(base.models.map((m) => [m.id, m]));
  for (const entry of local.models) byId.set(entry.id, entry);
  return { models: [...byId.values()] };
}

/**
 * Adds (or replaces, by id) an entry in MODELS_DIR/registry.json. When MODELS_DIR is the package's
 * own folder the committed registry is left alone and the entry is returned for the operator to add.
 */
export async function registerLocalModel(modelsDir: string, entry: ModelEntry): Promise<string> {
  if (resolve(modelsDir) === resolve(PACKAGE_MODELS_DIR)) {
    return `add this entry to ${join(PACKAGE_MODELS_DIR, 'registry.json')} to use it:\n${JSON.stringify(entry, null, 2)}`;
  }
  const file = join(resolve(modelsDir), LOCAL_REGISTRY_FILE);
  const local: Registry = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Registry)
    : { models: [] };
  local.models = [...local.models.filter((m) => m.id !== entry.id), entry];
  await mkdir(resolve(modelsDir), { recursive: true });
  await writeFile(file, `${JSON.stringify(local, null, 2)}\n`);
  return `registered as "${entry.id}" in ${file}`;
}
