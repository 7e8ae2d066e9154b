import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseConfig } from '../config/load-config.ts';
import type { Config } from '../config/schema.ts';
import { ffmpegVersion } from '../engine/video/ffmpeg.ts';
import { createLogger } from '../log/logger.ts';
import { loadCatalog } from '../models/model-catalog.ts';
import { missingModelFiles, modelFolder } from '../models/model-folder.ts';
import { modelFamilyChecks } from './model-family-checks.ts';
import { probeExecutionProvider } from './provider-probe.ts';
import { readRedisFacts } from './redis-checks.ts';
import { screenAndUpscalerChecks } from './screen-and-upscaler-checks.ts';

/** One line of `easel doctor`: ok, a warning, or a failure with what to do. */
export interface CheckResult {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
}

export async function runDoctorChecks(env: Record<string, string | undefined>): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  let config: Config;
  try {
    config = parseConfig(env);
    results.push({ name: 'configuration', status: 'ok', detail: 'all variables valid' });
  } catch (error) {
    results.push({
      name: 'configuration',
      status: 'fail',
      detail: `${(error as Error).message}\n  Fix the variables above in .env (see .env.example).`,
    });
    return results;
  }
  results.push(...(await redisChecks(config)));
  results.push(modelsCheck(config));
  results.push(...modelFamilyChecks(config, loadCatalog(config.MODELS_DIR)));
  for (const provider of config.EXECUTION_PROVIDERS) {
    const probe = await probeExecutionProvider(provider);
    results.push({
      name: `execution provider ${provider}`,
      status: probe.ok ? 'ok' : provider === 'cpu' ? 'fail' : 'warn',
      detail: probe.ok ? probe.detail : `${probe.detail}\n  ${providerHint(provider)}`,
    });
  }
  results.push(
    ...(await screenAndUpscalerChecks(config, loadCatalog(config.MODELS_DIR), createLogger('silent'))),
  );
  results.push(videoCheck());
  results.push(...platformChecks(config));
  return results;
}

/** Clips are WebP and GIF everywhere; MP4 only where this worker has ffmpeg with H.264. */
function videoCheck(): CheckResult {
  const version = ffmpegVersion();
  return version !== undefined
    ? { name: 'video (ffmpeg)', status: 'ok', detail: `clips as MP4, WebP and GIF; ${version}` }
    : {
        name: 'video (ffmpeg)',
        status: 'warn',
        detail:
          'ffmpeg with H.264 not found: clips are WebP and GIF only (no MP4).\n  Install it on each GPU worker: apt-get install -y ffmpeg',
      };
}

async function redisChecks(config: Config): Promise<CheckResult[]> {
  try {
    const facts = await readRedisFacts(config.REDIS_URL);
    const persistence = facts.aof ? 'AOF on' : facts.rdbSave ? `RDB snapshots (${facts.rdbSave})` : 'off';
    return [
      {
        name: 'redis',
        status: 'ok',
        detail: `reachable at ${redactUrl(config.REDIS_URL)}, version ${facts.version}`,
      },
      facts.maxmemoryPolicy === 'noeviction'
        ? { name: 'redis maxmemory-policy', status: 'ok', detail: 'noeviction' }
        : {
            name: 'redis maxmemory-policy',
            status: 'fail',
            detail: `${facts.maxmemoryPolicy}: BullMQ loses jobs when Redis evicts keys.\n  Set maxmemory-policy noeviction in redis.conf (or CONFIG SET maxmemory-policy noeviction).`,
          },
      {
        name: 'redis persistence',
        status: persistence === 'off' ? 'warn' : 'ok',
        detail:
          persistence === 'off'
            ? 'off: queued jobs and credits are lost when Redis restarts.\n  Enable AOF (appendonly yes, appendfsync everysec) for production.'
            : persistence,
      },
    ];
  } catch (error) {
    return [
      {
        name: 'redis',
        status: 'fail',
        detail: `not reachable at ${redactUrl(config.REDIS_URL)} (${(error as Error).message}).\n  Install it (apt-get install redis-server) and start it, or set REDIS_URL. \`easel start\` runs a private one when REDIS_URL is the local default.`,
      },
    ];
  }
}

function modelsCheck(config: Config): CheckResult {
  const catalog = loadCatalog(config.MODELS_DIR);
  const installed: string[] = [];
  const incomplete: string[] = [];
  for (const entry of catalog.models) {
    const dir = modelFolder(entry, config.MODELS_DIR);
    if (!existsSync(dir)) continue;
    const missing = missingModelFiles(entry, dir);
    if (missing.length === 0) installed.push(entry.id);
    else incomplete.push(`${entry.id} (missing ${missing.join(', ')})`);
  }
  if (installed.length === 0) {
    return {
      name: 'models',
      status: 'fail',
      detail: `none installed in ${resolve(config.MODELS_DIR)}${incomplete.length ? `; incomplete: ${incomplete.join('; ')}` : ''}.\n  Run \`easel models download <hub-repo>\` (\`easel models list\` shows the known ones).`,
    };
  }
  if (incomplete.length > 0) {
    return {
      name: 'models',
      status: 'warn',
      detail: `installed: ${installed.join(', ')}; incomplete: ${incomplete.join('; ')}.\n  Run \`easel models download\` again for those; it resumes.`,
    };
  }
  return { name: 'models', status: 'ok', detail: `installed: ${installed.join(', ')}` };
}

function platformChecks(config: Config): CheckResult[] {
  const set = (v: string | undefined) => (v ? 'set' : 'not set');
  const results: CheckResult[] = [];
  results.push({
    name: 'discord',
    status: 'ok',
    detail: config.DISCORD_ENABLED
      ? `enabled; DISCORD_TOKEN ${set(config.DISCORD_TOKEN)}, DISCORD_APPLICATION_ID ${set(config.DISCORD_APPLICATION_ID)}`
      : `disabled (DISCORD_ENABLED=false); DISCORD_TOKEN ${set(config.DISCORD_TOKEN)}`,
  });
  results.push({
    name: 'slack',
    status: 'ok',
    detail: config.SLACK_ENABLED
      ? `enabled (${config.SLACK_SOCKET_MODE ? 'Socket Mode' : 'HTTP'}); SLACK_BOT_TOKEN ${set(config.SLACK_BOT_TOKEN)}, SLACK_SIGNING_SECRET ${set(config.SLACK_SIGNING_SECRET)}, SLACK_APP_TOKEN ${set(config.SLACK_APP_TOKEN)}`
      : `disabled (SLACK_ENABLED=false); SLACK_BOT_TOKEN ${set(config.SLACK_BOT_TOKEN)}`,
  });
  results.push({
    name: 'rest api',
    status: 'ok',
    detail: config.API_ENABLED
      ? `enabled on ${config.API_HOST}:${config.API_PORT}`
      : 'disabled (API_ENABLED=false)',
  });
  return results;
}

function providerHint(provider: string): string {
  if (provider === 'cuda') {
    return 'Install the CUDA provider on a GPU host with internet: npm run install:cuda (needs CUDA 12 and cuDNN 9).';
  }
  if (provider === 'webgpu') return 'WebGPU needs a GPU and the Vulkan loader (apt-get install libvulkan1).';
  return 'onnxruntime-node did not install correctly: run npm ci again.';
}

/** Hides a password in a Redis URL before it is printed. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    // Not a WHATWG URL (a redis+cluster:// list of nodes): hide the password all the same.
    return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  }
}
