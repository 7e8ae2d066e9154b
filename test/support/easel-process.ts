import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * A real `easel start` process running the roles a test names, as a deployment runs them on one
 * machine of several: its own environment only (PATH and what the test passes), its log kept for
 * the failure message.
 */
export interface EaselProcess {
  readonly child: ChildProcess;
  log(): string;
  /** Resolves once the log says every role in `roles` started. */
  started(roles: string[], timeoutMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * One `easel` command of the real binary (bin/easel.js) in a deployment of its own under `root`
 * (models, artifacts, data) on the test Redis: its exit code and output, whether or not it failed.
 */
export function easelCommand(
  root: string,
  redisUrl: string,
  prefix: string,
  extraEnv: Record<string, string> = {},
) {
  const run = promisify(execFile);
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    MODELS_DIR: join(root, 'models'),
    ARTIFACTS_DIR: join(root, 'artifacts'),
    DATA_DIR: join(root, 'data'),
    ENGINE_THREADS: '1',
    ...extraEnv,
  };
  return async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await run('node', ['bin/easel.js', ...args], { env, timeout: 120_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
}

export function startEasel(env: Record<string, string>, options: { command?: string[] } = {}): EaselProcess {
  const [file, ...args] = options.command ?? ['node', 'bin/easel.js', 'start'];
  const child = spawn(file ?? 'node', args, {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    log: () => log,
    async started(roles, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!roles.every((role) => log.includes(`"role":"${role}","msg":"role started"`))) {
        if (child.exitCode !== null)
          throw new Error(`easel exited with ${child.exitCode}:\n${log.slice(-4000)}`);
        if (Date.now() > deadline)
          throw new Error(`roles ${roles.join(', ')} did not start:\n${log.slice(-4000)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** A webhook receiver that records every call's JSON body, in order. */
export interface WebhookReceiver {
  url: string;
  calls: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(host = '127.0.0.1'): Promise<WebhookReceiver> {
  const calls: Record<string, unknown>[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      try {
        calls.push(JSON.parse(body) as Record<string, unknown>);
      } catch {
        calls.push({ unparsable: body });
      }
      res.writeHead(200).end('ok');
    });
  });
  server.listen(0, host);
  await once(server, 'listening');
  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}/hook`,
    calls,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
