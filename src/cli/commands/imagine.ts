import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { handleImagine } from '../../../commands/imagine.ts';
import { startGenerateRole } from '../../../workers/generate.ts';
import { ensureRedis } from '../../app/ensure-redis.ts';
import type { RunningRole } from '../../app/role.ts';
import { createServices } from '../../app/services.ts';
import { DiskArtifactStore } from '../../artifacts/disk-artifact-store.ts';
import { loadConfig } from '../../config/load-config.ts';
import { createLogger } from '../../log/logger.ts';
import { loadCatalog } from '../../models/model-catalog.ts';
import type { MemberRef } from '../../queue/job-data.ts';

interface ImagineOptions {
  out: string;
  init?: string;
  timeout: string;
  verbose?: boolean;
}

/**
 * `easel imagine "<prompt and flags>"`: the operator's way to try a deployment without chat. The
 * request takes the same road as a member's (parser, validator, admission in the `cli` scope, the
 * queue, a worker); when no worker is connected to the queue, one runs in this process.
 */
export function registerImagine(program: Command): void {
  program
    .command('imagine')
    .description('render a prompt through admission, the queue and a worker; writes the PNGs')
    .argument('<prompt...>', 'prompt with flags, e.g. "a red circle --ar 16:9 --seed 42 --n 4"')
    .option('-o, --out <dir>', 'folder for the PNGs', '.')
    .option('--init <file>', 'start from this image (img2img)')
    .option('--timeout <seconds>', 'give up waiting after this long', '600')
    .option('-v, --verbose', 'show the log')
    .action(async (words: string[], options: ImagineOptions) => {
      process.exitCode = await imagine(words.join(' '), options);
    });
}

async function imagine(text: string, options: ImagineOptions): Promise<number> {
  const config = loadConfig();
  const logger = createLogger(options.verbose === true ? config.LOG_LEVEL : 'warn');
  const embedded = await ensureRedis(config, logger);
  const artifacts = new DiskArtifactStore(config.ARTIFACTS_DIR);
  const catalog = loadCatalog(config.MODELS_DIR);
  const services = await createServices(config, logger, { artifacts, registry: catalog });
  let worker: RunningRole | undefined;
  try {
    const member: MemberRef = {
      scope: { kind: 'cli', id: hostname() },
      userId: userInfo().username,
      displayName: userInfo().username,
    };
    const initImage =
      options.init !== undefined
        ? await artifacts.put(await readFile(options.init), { contentType: 'application/octet-stream' })
        : undefined;
    const reply = await handleImagine(services, {
      requestId: `cli-${randomUUID()}`,
      member,
      origin: { platform: 'cli' },
      text,
      ...(initImage !== undefined ? { initImage } : {}),
    });
    if (reply.status === 'refused') {
      console.error(reply.error.message);
      return 1;
    }
    const { jobId, request } = reply;
    console.log(
      `queued ${jobId}: ${request.model}, ${request.width}x${request.height}, ${request.steps} steps, ` +
        `seed ${request.seed}, cost ${reply.cost} (balance ${reply.balance})`,
    );

    let progressShown = false;
    const progress = services.progress.onProgress((event) => {
      if (event.jobId !== jobId) return;
      progressShown = true;
      process.stdout.write(`\rstep ${event.progress.step}/${event.progress.total}`);
    });
    await services.progress.queueEvents();
    if ((await services.workers.online()).length === 0) {
      console.log('no worker is connected to the queue: rendering in this process');
      worker = await startGenerateRole({ config, logger }, { artifacts, catalog, warmUp: false });
    }
    const started = Date.now();
    const view = await services.jobs.waitForResult(jobId, Number(options.timeout) * 1000);
    progress();
    if (progressShown) process.stdout.write('\n');
    if (view?.state === 'failed') {
      console.error(`failed: ${view.failedReason ?? 'unknown reason'}`);
      return 1;
    }
    if (view?.state !== 'completed' || view.result === undefined) {
      console.error(
        `gave up after ${options.timeout} s; the job is ${view?.state ?? 'unknown'} (id ${jobId})`,
      );
      return 1;
    }
    const result = view.result;
    const dir = resolve(options.out);
    await mkdir(dir, { recursive: true });
    const files: string[] = [];
    for (const image of result.images) {
      const stored = await artifacts.get(image.artifactId);
      if (stored === undefined)
        throw new Error(`image ${image.artifactId} is not in ${config.ARTIFACTS_DIR}`);
      const file = join(dir, `easel-${image.seed}.png`);
      await writeFile(file, stored.bytes);
      const flag = image.nsfw?.nsfw === true ? ` (flagged NSFW, score ${image.nsfw.score})` : '';
      files.push(`  ${file}  ${image.width}x${image.height}${flag}`);
    }
    if (result.grid !== undefined) {
      const grid = await artifacts.get(result.grid.artifactId);
      if (grid !== undefined) {
        const file = join(dir, `easel-${result.seed}-grid.png`);
        await writeFile(file, grid.bytes);
        files.push(`  ${file}  ${result.grid.width}x${result.grid.height} (grid)`);
      }
    }
    console.log(files.join('\n'));
    const t = result.timings;
    console.log(
      `seed ${result.seed} · ${result.provider} · load ${t.loadMs} ms · render ${t.renderMs} ms · ` +
        `job ${t.totalMs} ms · waited ${Date.now() - started} ms`,
    );
    if (result.truncatedWords.length > 0) {
      console.log(`cut past the 77-token limit: ${result.truncatedWords.join(' ')}`);
    }
    return 0;
  } finally {
    await worker?.stop();
    await services.close();
    await embedded?.stop();
  }
}
