import { rename, rm } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { loadConfig } from '../../config/load-config.ts';
import { describeAddOn, listAddOns } from '../../engine/add-ons/add-on-listing.ts';
import { TINY_FAMILIES, tinyFamilyEntry, writeTinyFamilyModel } from '../../engine/tiny/tiny-families.ts';
import { writeTinyModel } from '../../engine/tiny/tiny-model-folder.ts';
import { CodedError } from '../../errors/coded-error.ts';
import { type AddOnKind, addOnPath } from '../../models/add-on-folders.ts';
import { planDownload } from '../../models/download-plan.ts';
import { downloadHubFile, downloadModel, type HubSource } from '../../models/hub-download.ts';
import { loadCatalog, registerLocalModel } from '../../models/model-catalog.ts';
import { missingModelFiles } from '../../models/model-folder.ts';
import { listModels, type ModelListing } from '../../models/model-listing.ts';
import type { ModelEntry } from '../../models/registry.ts';
import { ADD_ON_NAME } from '../../request/lora-set.ts';
import { formatTable } from '../print-table.ts';

/** `easel models list | download <hub-repo> | tiny <dir>`. */
export function registerModels(program: Command): void {
  const models = program.command('models').description('list, download and create model folders');

  models
    .command('list')
    .description('the models this deployment knows: installed or not, the default, how to install the rest')
    .option('--json', 'print a JSON array instead of a table')
    .action(async (options: { json?: boolean }) => {
      const config = loadConfig();
      const listing = listModels(loadCatalog(config.MODELS_DIR), config.MODELS_DIR, config.DEFAULT_MODEL);
      if (options.json === true) {
        console.log(JSON.stringify(listing));
        return;
      }
      console.log(describeListing(listing));
      console.log(`\n${describeAddOns(await listAddOns(config.MODELS_DIR))}`);
    });

  models
    .command('download')
    .description('fetch a model folder (diffusers/Optimum ONNX layout) from the Hugging Face hub; resumable')
    .argument(
      '<hub-repo>',
      'e.g. onnx-community/stable-diffusion-v1-5-ONNX, or a registry id (sdxl, sd2.1, ...)',
    )
    .option('--revision <revision>', "branch, tag or commit (default: the registry entry's, else main)")
    .option(
      '--subfolder <path>',
      "the folder inside the repo that holds the model (default: the registry entry's, else the root or onnx/)",
    )
    .option(
      '--folder <name>',
      "folder name under MODELS_DIR (default: the registry entry's, else the repo name)",
    )
    .option('--all', 'fetch every file, including PyTorch/safetensors weights the engine does not use')
    .option('--lora', 'fetch a LoRA (one .safetensors file of the repo) into MODELS_DIR/loras instead')
    .option('--embedding', 'fetch a textual-inversion embedding into MODELS_DIR/embeddings instead')
    .option('--file <path>', 'with --lora or --embedding: the file in the repo, when it holds several')
    .option('--name <name>', 'with --lora or --embedding: the name members write (default: the file name)')
    .action(
      async (
        repoOrId: string,
        options: {
          revision?: string;
          subfolder?: string;
          folder?: string;
          all?: boolean;
          lora?: boolean;
          embedding?: boolean;
          file?: string;
          name?: string;
        },
      ) => {
        const config = loadConfig();
        if (options.lora === true || options.embedding === true) {
          const kind = options.lora === true ? 'lora' : 'embedding';
          console.log(await downloadAddOn(config, kind, repoOrId, options));
          return;
        }
        const catalog = loadCatalog(config.MODELS_DIR);
        const { source, dir, folder, entry } = planDownload(
          catalog,
          { repoOrId, ...options },
          {
            modelsDir: config.MODELS_DIR,
            hubUrl: config.HF_ENDPOINT,
            ...(config.HF_TOKEN !== undefined ? { accessToken: config.HF_TOKEN } : {}),
          },
        );
        const bar = new SingleBar({
          format: '{bar} {percentage}% | {value}/{total} MB | {file}',
          hideCursor: true,
        });
        let received = 0;
        await downloadModel(
          source,
          dir,
          {
            plan: (files, total) => {
              const where = source.subfolder === undefined ? '' : ` (${source.subfolder}/)`;
              console.log(
                `${source.repo}@${source.revision}${where}: ${files.length} files, ${megabytes(total)} MB -> ${dir}`,
              );
              bar.start(megabytes(total), 0, { file: '' });
            },
            progress: (file, bytes) => {
              received += bytes;
              bar.update(megabytes(received), { file });
            },
          },
          { all: options.all === true },
        ).finally(() => bar.stop());
        if (entry === undefined)
          console.log(await registerDownloaded(config.MODELS_DIR, source.repo, source.revision, folder));
        const check = entry ?? downloadedEntry(source.repo, source.revision, folder);
        const missing = missingModelFiles(check, dir);
        console.log(
          missing.length === 0
            ? `done: ${dir} is complete`
            : `downloaded, but ${dir} lacks ${missing.join(', ')}: is ${source.repo} an ONNX export in the diffusers layout?`,
        );
      },
    );

  models
    .command('tiny')
    .description(
      'write a tiny test model (shape-true, draws noise) to smoke-test a deployment without weights',
    )
    .argument('[dir]', 'target folder (default: MODELS_DIR/easel-tiny, or easel-tiny-<family>)')
    .option(
      '--family <family>',
      `the layout to write: sd1 (default), ${TINY_FAMILIES.join(', ')}; other families are registered in MODELS_DIR/registry.json`,
      'sd1',
    )
    .action(async (dir: string | undefined, options: { family: string }) => {
      const config = loadConfig();
      if (options.family === 'sd1') {
        const target = resolve(dir ?? join(config.MODELS_DIR, 'easel-tiny'));
        await writeTinyModel(target);
        console.log(`wrote the tiny model to ${target}`);
        return;
      }
      const family = TINY_FAMILIES.find((f) => f === options.family);
      if (family === undefined) {
        throw new CodedError(
          'config-invalid',
          `--family must be sd1 or one of ${TINY_FAMILIES.join(', ')} (got "${options.family}")`,
        );
      }
      const entry = tinyFamilyEntry(family);
      const target = resolve(dir ?? join(config.MODELS_DIR, entry.folder));
      await writeTinyFamilyModel(target, family);
      console.log(`wrote the tiny ${family} model to ${target}`);
      console.log(
        await registerLocalModel(config.MODELS_DIR, {
          ...entry,
          folder: relative(resolve(config.MODELS_DIR), target),
        }),
      );
    });
}

function megabytes(bytes: number): number {
  return Math.round((bytes / 1_048_576) * 10) / 10;
}

function describeListing(listing: ModelListing[]): string {
  const rows = listing.map((m) => {
    let state: string = m.state;
    if (m.state === 'incomplete') state = `incomplete: ${m.missing[0]} missing`;
    if (m.default) state += ', default';
    return [
      [m.id, ...m.aliases].join(', '),
      m.kind,
      m.family,
      `${m.nativeResolution}px`,
      state,
      m.install ?? '',
    ];
  });
  const table = formatTable(['model (aliases)', 'kind', 'family', 'size', 'state', 'install with'], rows);
  return `${table}\n\nA request that names no model gets the default (DEFAULT_MODEL, else the first installed hub model, else easel-mini).`;
}

/** `--lora` / `--embedding`: one file into MODELS_DIR/loras or /embeddings, kept only if easel can use it. */
async function downloadAddOn(
  config: ReturnType<typeof loadConfig>,
  kind: AddOnKind,
  repo: string,
  options: { revision?: string; file?: string; name?: string },
): Promise<string> {
  const source: HubSource = {
    repo,
    revision: options.revision ?? 'main',
    hubUrl: config.HF_ENDPOINT,
    ...(config.HF_TOKEN !== undefined ? { accessToken: config.HF_TOKEN } : {}),
  };
  const name =
    options.name ?? (options.file !== undefined ? basename(options.file, '.safetensors') : undefined);
  // Without --file or --name the name comes from the one file the repo holds, known once it is listed.
  const staging = addOnPath(config.MODELS_DIR, kind, name ?? `.download-${process.pid}`);
  const fetched = await downloadHubFile(source, options.file, staging);
  const finalName = name ?? basename(fetched.path, '.safetensors');
  if (!ADD_ON_NAME.test(finalName)) {
    await rm(staging, { force: true });
    throw new CodedError('config-invalid', `"${finalName}" cannot be a ${kind} name: give one with --name`);
  }
  const dest = addOnPath(config.MODELS_DIR, kind, finalName);
  if (dest !== staging) await rename(staging, dest);
  const listing = await describeAddOn(kind, { name: finalName, path: dest, bytes: fetched.size });
  if (listing.problem !== undefined) {
    await rm(dest, { force: true });
    throw new CodedError(
      'model-invalid',
      `${repo}/${fetched.path} cannot be used as a ${kind}: ${listing.problem}`,
    );
  }
  const family = listing.family !== undefined ? ` (looks trained for ${listing.family})` : '';
  const use = kind === 'lora' ? `<lora:${finalName}:0.8>` : `"${finalName}" in a prompt`;
  return `done: ${dest}${family}; members use it with ${use}`;
}

function describeAddOns({ loras, embeddings }: Awaited<ReturnType<typeof listAddOns>>): string {
  const rows = [...loras, ...embeddings].map((a) => [
    a.name,
    a.kind,
    a.family ?? 'unknown',
    `${megabytes(a.bytes)} MB`,
    a.problem ?? (a.vectors !== undefined ? `${a.vectors} vectors` : ''),
  ]);
  if (rows.length === 0)
    return 'No LoRAs (MODELS_DIR/loras) or embeddings (MODELS_DIR/embeddings) are installed.';
  return formatTable(['LoRA / embedding', 'kind', 'family', 'size', 'notes'], rows);
}

function downloadedEntry(repo: string, revision: string, folder: string): ModelEntry {
  return {
    id: folder.toLowerCase(),
    aliases: [],
    description: `${repo} (downloaded)`,
    kind: 'txt2img',
    hub: { repo, revision },
    folder,
    nativeResolution: 512,
    renderScale: 1,
    latentMultiple: 8,
    defaults: { steps: 25, guidance: 7.5, scheduler: 'dpmpp_2m_karras' },
    limits: { minSteps: 1, maxSteps: 150 },
    nsfwScreening: 'required',
  };
}

/**
 * A repo the registry does not list gets an entry in MODELS_DIR/registry.json (Stable Diffusion
 * defaults; edit them there). When MODELS_DIR is the package's own folder, the committed registry is
 * left alone and the entry is printed instead.
 */
async function registerDownloaded(
  modelsDir: string,
  repo: string,
  revision: string,
  folder: string,
): Promise<string> {
  const registered = await registerLocalModel(modelsDir, downloadedEntry(repo, revision, folder));
  return registered.startsWith('registered') ? `${registered} (adjust its defaults there)` : registered;
}
