import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { BatchStore } from '../../../commands/batch.ts';
import { handleImagine } from '../../../commands/imagine.ts';
import { workerReason } from '../../../workers/generate.ts';
import { ensureRedis } from '../../app/ensure-redis.ts';
import type { RunningRole } from '../../app/role.ts';
import { createServices } from '../../app/services.ts';
import { artifactStoreFromConfig } from '../../artifacts/artifact-store-from-config.ts';
import { loadConfig } from '../../config/load-config.ts';
import { createLogger } from '../../log/logger.ts';
import { loadCatalog } from '../../models/model-catalog.ts';
import { startGenerateRole } from '../../queue/worker-role.ts';
import { cliMember } from '../cli-member.ts';
import { terminalProgress } from '../terminal-progress.ts';

interface ImagineOptions {
  out: string;
  init?: string;
  timeout: string;
  verbose?: boolean;
  json?: boolean;
}

/** What `easel imagine --json` prints: one object, whatever happened. */
interface ImagineOutcome {
  status: 'completed' | 'failed' | 'refused' | 'timed-out';
  jobId?: string;
  model?: string;
  seed?: number;
  cost?: number;
  balance?: number;
  warnings: string[];
  files: {
    path: string;
    width: number;
    height: number;
    seed?: number;
    grid?: boolean;
    nsfw?: boolean;
    /** A clip's file: its format, frames and frame rate. */
    clip?: { format: 'mp4' | 'gif' | 'webp'; frames: number; fps: number };
  }[];
  provider?: string;
  timings?: { loadMs: number; renderMs: number; totalMs: number; waitedMs: number };
  truncatedWords?: string[];
  /** What a member would read. */
  message?: string;
  /** The worker's own reason for a failure (operators only: chat members never see it). */
  workerReason?: string;
}

/**
 * `easel imagine "<prompt and flags>"`: the operator's way to try a deployment without chat. The
 * request takes the same road as a member's (parser, validator, admission in the `cli` scope, the
 * queue, a worker); when no worker is connected to the queue, one runs in this process.
 */
export function registerImagine(program: Command): void {
  program
    .command('imagine')
    .description(
      'render a prompt through admission, the queue and a worker; writes the PNGs (and, with --video N, the clip)',
    )
    .argument('<prompt...>', 'prompt with flags, e.g. "a red circle --ar 16:9 --seed 42 --n 4"')
    .option('-o, --out <dir>', 'folder for the PNGs', '.')
    .option('--init <file>', 'start from this image (img2img)')
    .option('--timeout <seconds>', 'give up waiting after this long', '600')
    .option('-v, --verbose', 'show the log')
    .option('--json', 'print one JSON object instead of text')
    .action(async (words: string[], options: ImagineOptions) => {
      const outcome = await imagine(words.join(' '), options);
      if (options.json === true) console.log(JSON.stringify(outcome));
      process.exitCode = outcome.status === 'completed' ? 0 : 1;
    });
}

async function imagine(text: string, options: ImagineOptions): Promise<ImagineOutcome> {
  const json = options.json === true;
  // Text goes to the person at the terminal; with --json only the final object reaches stdout.
  const say = (line: string) => {
    if (!json) console.log(line);
  };
  const complain = (line: string) => {
    if (!json) console.error(line);
  };
  const config = loadConfig();
  // Without -v the in-process worker's log stays quiet: its warnings (a failed render) are told below
  // as text, not as pino JSON lines with a stack.
  const logger = createLogger(options.verbose === true ? config.LOG_LEVEL : 'error');
  const embedded = await ensureRedis(config, logger);
  const artifacts = await artifactStoreFromConfig(config);
  const catalog = loadCatalog(config.MODELS_DIR);
  const services = await createServices(config, logger, { artifacts, registry: catalog });
  let worker: RunningRole | undefined;
  const outcome: ImagineOutcome = { status: 'failed', warnings: [], files: [] };
  try {
    const initImage =
      options.init !== undefined
        ? await artifacts.put(await readFile(options.init), { contentType: 'application/octet-stream' })
        : undefined;
    const reply = await handleImagine(services, {
      requestId: `cli-${randomUUID()}`,
      member: cliMember(),
      origin: { platform: 'cli' },
      text,
      ...(initImage !== undefined ? { initImage } : {}),
    });
    if (reply.status === 'refused') {
      complain(reply.error.message);
      return { ...outcome, status: 'refused', message: reply.error.message };
    }
    if (reply.status === 'confirm') {
      // Nothing was queued: the batch waits for a confirmation the terminal does not ask for.
      await new BatchStore(services.redis, services.prefix).take(reply.batchId);
      const message = `this prompt makes ${reply.prompts.length} jobs (${reply.totalCost} credits); easel imagine renders one at a time, so run each prompt on its own (permutations and --repeat are for Discord and Slack). Nothing was queued.`;
      complain(message);
      return { ...outcome, status: 'refused', message };
    }
    const { jobId, request } = reply;
    Object.assign(outcome, {
      jobId,
      model: request.model,
      seed: request.seed,
      cost: reply.cost,
      balance: reply.balance,
      warnings: reply.warnings,
    });
    say(
      `queued ${jobId}: ${request.model}, ${request.width}x${request.height}, ${request.steps} steps, ` +
        `seed ${request.seed}, cost ${reply.cost} (balance ${reply.balance})`,
    );
    for (const warning of reply.warnings) complain(`hint: ${warning}`);

    // A bar redrawn in place only on a terminal; piped output gets no progress lines at all.
    const bar = json ? undefined : terminalProgress(process.stdout);
    const progress = services.progress.onProgress((event) => {
      if (event.jobId === jobId) bar?.update(event.progress.step, event.progress.total);
    });
    await services.progress.queueEvents();
    if ((await services.workers.online()).length === 0) {
      say('no worker is connected to the queue: rendering in this process');
      worker = await startGenerateRole({ config, logger }, { artifacts, catalog, warmUp: false });
    }
    const started = Date.now();
    const view = await services.jobs.waitForResult(jobId, Number(options.timeout) * 1000);
    progress();
    bar?.stop();
    if (view?.state === 'failed') {
      const reason = await workerReason(services.queues.generate, jobId);
      const message = view.failedReason ?? 'unknown reason';
      complain(`failed: ${message}`);
      if (reason !== undefined && reason !== message) complain(`  the worker's reason: ${reason}`);
      return { ...outcome, message, ...(reason !== undefined ? { workerReason: reason } : {}) };
    }
    if (view?.state !== 'completed' || view.result === undefined) {
      const message = `gave up after ${options.timeout} s; the job is ${view?.state ?? 'unknown'} (id ${jobId})`;
      complain(message);
      return { ...outcome, status: 'timed-out', message };
    }
    const result = view.result;
    const dir = resolve(options.out);
    await mkdir(dir, { recursive: true });
    for (const image of result.images) {
      const stored = await artifacts.get(image.artifactId);
      if (stored === undefined)
        throw new Error(
          `image ${image.artifactId} is not in ${config.ARTIFACTS_URL || config.ARTIFACTS_DIR}`,
        );
      const file = join(dir, `easel-${image.seed}.png`);
      await writeFile(file, stored.bytes);
      outcome.files.push({
        path: file,
        width: image.width,
        height: image.height,
        seed: image.seed,
        ...(image.nsfw?.nsfw === true ? { nsfw: true } : {}),
      });
      const flag = image.nsfw?.nsfw === true ? ` (flagged NSFW, score ${image.nsfw.score})` : '';
      say(`  ${file}  ${image.width}x${image.height}${flag}`);
    }
    const clip = result.video;
    for (const file of clip?.files ?? []) {
      const stored = await artifacts.get(file.artifactId);
      if (stored === undefined || clip === undefined) continue;
      const path = join(dir, `easel-${result.seed}-clip.${file.format}`);
      await writeFile(path, stored.bytes);
      outcome.files.push({
        path,
        width: clip.width,
        height: clip.height,
        clip: { format: file.format, frames: clip.frames, fps: clip.fps },
      });
      say(`  ${path}  ${clip.width}x${clip.height}, ${clip.frames} frames at ${clip.fps} fps (${clip.mode})`);
    }
    if (result.grid !== undefined) {
      const grid = await artifacts.get(result.grid.artifactId);
      if (grid !== undefined) {
        const file = join(dir, `easel-${result.seed}-grid.png`);
        await writeFile(file, grid.bytes);
        outcome.files.push({ path: file, width: result.grid.width, height: result.grid.height, grid: true });
        say(`  ${file}  ${result.grid.width}x${result.grid.height} (grid)`);
      }
    }
    const t = result.timings;
    const waitedMs = Date.now() - started;
    say(
      `seed ${result.seed} · ${result.provider} · load ${t.loadMs} ms · render ${t.renderMs} ms · ` +
        `job ${t.totalMs} ms · waited ${waitedMs} ms`,
    );
    if (result.truncatedWords.length > 0) {
      say(`cut past the 77-token limit: ${result.truncatedWords.join(' ')}`);
    }
    for (const warning of result.warnings ?? []) say(`warning: ${warning}`);
    return {
      ...outcome,
      status: 'completed',
      seed: result.seed,
      provider: result.provider,
      timings: { loadMs: t.loadMs, renderMs: t.renderMs, totalMs: t.totalMs, waitedMs },
      truncatedWords: result.truncatedWords,
    };
  } finally {
    await worker?.stop();
    await services.close();
    await embedded?.stop();
  }
}
