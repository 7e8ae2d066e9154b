import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { writeTinyLora } from '../support/tiny-loras.ts';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'easel-operator-'));
const prefix = uniquePrefix('operator');
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The real `easel` binary, its stdout a pipe (not a terminal), on the test Redis. */
async function easel(args: string[], extra: Record<string, string> = {}) {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    REDIS_URL: testRedisUrl(),
    QUEUE_PREFIX: prefix,
    MODELS_DIR: join(root, 'models'),
    ARTIFACTS_DIR: join(root, 'artifacts'),
    DATA_DIR: join(root, 'data'),
    ENGINE_THREADS: '1',
    DEFAULT_COOLDOWN_S: '0',
    ...extra,
  };
  try {
    const { stdout, stderr } = await run('node', ['bin/easel.js', ...args], { env, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('easel --version', () => {
  it("prints the package's version", async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const { code, stdout } = await easel(['--version']);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(version);
  });
});

describe('easel credits', () => {
  it('shows the cli scope that easel imagine charges, and grants it credits that never expire', async () => {
    const shown = await easel(['credits', '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    const before = JSON.parse(shown.stdout);
    expect(before.scope.kind).toBe('cli');
    expect(before.balance).toMatchObject({ dailyAllowance: 25, granted: 0 });

    const granted = await easel(['credits', 'grant', '40', '--reason', 'testing']);
    expect(granted.code, granted.stderr).toBe(0);
    expect(granted.stdout).toContain('Granted 40 credits.');
    expect(granted.stdout).toMatch(/40 granted \(never expire\)/);
    expect(granted.stdout).toMatch(/allowance 25 a day/);

    const after = JSON.parse((await easel(['credits', 'show', '--json'])).stdout);
    expect(after.balance.total).toBe(before.balance.total + 40);
  });

  it('works on an API key by name, which keys create can give a daily allowance besides a cap', async () => {
    const created = await easel([
      'keys',
      'create',
      '--name',
      'allowance-key',
      '--credits',
      '10',
      '--allowance',
      '20',
      '--daily',
      '100',
      '--quiet',
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout.trim()).toMatch(/^esk_\S+$/);
    const shown = JSON.parse((await easel(['credits', '--scope', 'api:allowance-key', '--json'])).stdout);
    expect(shown.balance).toMatchObject({ dailyAllowance: 20, allowanceLeft: 20, granted: 10, total: 30 });
    expect(shown.policy).toMatchObject({ dailyAllowance: 20, dailyCap: 100 });
    const granted = await easel(['credits', 'grant', '5', '--scope', 'api:allowance-key', '--json']);
    expect(JSON.parse(granted.stdout).balance.granted).toBe(15);
  });

  it('refuses clearly: a chat scope without --member, a member who never used easel, an unknown key', async () => {
    const noMember = await easel(['credits', '--scope', 'discord:123']);
    expect(noMember.code).toBe(1);
    expect(noMember.stderr).toContain('--member USER_ID is needed');
    const stranger = await easel(['credits', 'grant', '5', '--scope', 'discord:123', '--member', '42']);
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toContain('has not used easel in this server yet');
    const unknown = await easel(['credits', '--scope', 'api:nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No API key with id or name "nope"');
    const badScope = await easel(['credits', '--scope', 'irc:1']);
    expect(badScope.code).toBe(1);
    expect(badScope.stderr).toContain('discord:GUILD_ID');
  });
});

describe('easel keys --rate', () => {
  it('creates a key with a rate, shows it in keys list, changes and removes it with keys set', async () => {
    const created = await easel([
      'keys',
      'create',
      '--name',
      'rate-key',
      '--credits',
      '5',
      '--rate',
      '60/min',
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain('Rate: 60/min.');
    expect((await easel(['keys', 'list'])).stdout).toMatch(/rate-key .* 60\/min/);
    const raised = await easel(['keys', 'set', 'rate-key', '--rate', '5/s']);
    expect(raised.stdout).toContain('Rate of "rate-key": 5/sec.');
    const off = await easel(['keys', 'set', 'rate-key', '--rate', 'off']);
    expect(off.stdout).toContain('Rate of "rate-key": no limit.');
  }, 180_000);

  it('refuses a rate it cannot read, and an unknown key, saying why', async () => {
    const bad = await easel(['keys', 'create', '--name', 'bad-rate', '--credits', '5', '--rate', 'lots']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('such as 60/min');
    const unknown = await easel(['keys', 'set', 'no-such-key', '--rate', '1/s']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No API key with id or name "no-such-key"');
  }, 120_000);
});

describe('easel models list', () => {
  it('marks the default and says how to install a missing model, then that it is installed', async () => {
    const before = await easel(['models', 'list']);
    expect(before.stdout).toMatch(/easel-mini, mini, shapes +txt2img +sd1 +512px +installed, default/);
    expect(before.stdout).toMatch(/easel-tiny, tiny +txt2img +sd1 +512px +not installed +easel models tiny/);
    expect(before.stdout).toMatch(/sd-1\.5, .* +not installed +easel models download onnx-community\//);
    await easel(['models', 'tiny']);
    const listing = JSON.parse((await easel(['models', 'list', '--json'])).stdout) as {
      id: string;
      installed: boolean;
      install?: string;
    }[];
    expect(listing.find((m) => m.id === 'easel-tiny')).toMatchObject({ installed: true });
    expect(listing.find((m) => m.id === 'easel-tiny')?.install).toBeUndefined();
  });

  it('lists the installed LoRAs and embeddings, and why a broken one cannot be used', async () => {
    expect((await easel(['models', 'list'])).stdout).toContain(
      'No LoRAs (MODELS_DIR/loras) or embeddings (MODELS_DIR/embeddings) are installed.',
    );
    writeTinyLora(join(root, 'models'), 'detail');
    mkdirSync(join(root, 'models', 'embeddings'), { recursive: true });
    writeFileSync(join(root, 'models', 'embeddings', 'broken.safetensors'), Buffer.alloc(3));
    const { stdout } = await easel(['models', 'list']);
    expect(stdout).toMatch(/detail +lora +unknown +0 MB/);
    expect(stdout).toMatch(
      /broken +embedding +unknown +0 MB +broken\.safetensors is not a valid safetensors file/,
    );
  });
});

describe('easel imagine', () => {
  it("hints at easel-mini's words for a prompt it cannot draw, and draws no progress into a pipe", async () => {
    const { code, stdout, stderr } = await easel([
      'imagine',
      'a lighthouse on a cliff --seed 9',
      '--out',
      root,
    ]);
    expect(code, stderr).toBe(0);
    expect(stderr).toContain('hint: easel-mini knows no word of this prompt');
    expect(stderr).toContain('circle, square, triangle');
    expect(stdout).not.toContain('\r');
    expect(stdout).not.toContain('step ');
    expect(stdout).toMatch(/seed 9 · cpu/);
  });

  it('prints one JSON object with --json', async () => {
    const { code, stdout } = await easel(['imagine', 'a lighthouse --seed 11', '--out', root, '--json']);
    expect(code).toBe(0);
    const outcome = JSON.parse(stdout);
    expect(outcome).toMatchObject({ status: 'completed', model: 'easel-mini', seed: 11 });
    expect(outcome.warnings[0]).toContain('easel-mini knows no word');
    expect(outcome.files[0].path).toBe(join(root, 'easel-11.png'));
  });

  it("names the worker's reason for a failed render, without log lines or a stack", async () => {
    // A damaged model: the UNet file is garbage.
    await easel(['models', 'tiny']);
    writeFileSync(join(root, 'models', 'easel-tiny', 'unet', 'model.onnx'), 'not an onnx model');
    const { code, stdout, stderr } = await easel(['imagine', 'a red circle --model tiny --seed 5']);
    expect(code).toBe(1);
    expect(stderr).toContain('failed: The model files on the render workers are damaged or incomplete.');
    expect(stderr).toMatch(/the worker's reason: .*unet.*could not be loaded/);
    expect(`${stdout}${stderr}`).not.toContain('"level"');
    expect(`${stdout}${stderr}`).not.toMatch(/\n\s+at /);

    const json = JSON.parse(
      (await easel(['imagine', 'a blue square --model tiny --seed 6', '--json'])).stdout,
    );
    expect(json.status, json.message).toBe('failed');
    expect(json.workerReason).toMatch(/could not be loaded/);
  });
});

describe('easel settings', () => {
  it('keeps defaults that easel imagine applies like /imagine in chat, and forgets them on reset', async () => {
    const saved = await easel(['settings', 'set', '--ar', '16:9', '--n', '2', '--steps', '2']);
    expect(saved.code, saved.stderr).toBe(0);
    expect(saved.stdout).toContain('Saved your aspect, count, steps.');
    const outcome = JSON.parse(
      (await easel(['imagine', 'a red circle --seed 3', '--out', root, '--json'])).stdout,
    );
    expect(outcome.status, outcome.message).toBe('completed');
    const images = outcome.files.filter((f: { grid?: boolean }) => f.grid !== true);
    expect(images).toHaveLength(2);
    expect(images[0].width).toBeGreaterThan(images[0].height);

    const bad = await easel(['settings', 'set', '--n', '9']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--n: /);
    const reset = await easel(['settings', 'reset']);
    expect(reset.stdout).toMatch(/count: default/);
  }, 120_000);

  it('refuses a permutation or --repeat batch, queueing and charging nothing', async () => {
    const before = JSON.parse((await easel(['credits', '--json'])).stdout);
    const { code, stdout } = await easel(['imagine', 'a {red, blue} circle', '--json']);
    expect(code).toBe(1);
    const outcome = JSON.parse(stdout);
    expect(outcome).toMatchObject({ status: 'refused' });
    expect(outcome.message).toMatch(/makes 2 jobs .*Nothing was queued/);
    const after = JSON.parse((await easel(['credits', '--json'])).stdout);
    expect(after.balance).toEqual(before.balance);
  }, 120_000);
});

describe('easel doctor without the CUDA provider', () => {
  it('reports cuda missing without onnxruntime printing an error line', async () => {
    const { stdout, stderr } = await easel(['doctor'], { EXECUTION_PROVIDERS: 'cuda,cpu' });
    expect(stdout).toMatch(/execution provider cuda: the CUDA provider is not installed/);
    expect(stdout).toContain('npm run install:cuda');
    expect(stderr).not.toContain('[E:onnxruntime');
  });
});
