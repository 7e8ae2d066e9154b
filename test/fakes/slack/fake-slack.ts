import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeSocketMode } from './fake-socket-mode.ts';
import { type Args, parseArgs, readRaw } from './request-body.ts';

/**
 * A fake Slack that the real `@slack/web-api` client (inside Bolt) talks to through
 * `clientOptions.slackApiUrl`. It speaks the Web API wire format (POST /api/<method>, form or JSON
 * bodies, `{ok: true, ...}` / `{ok: false, error}` answers, 429 with `Retry-After`), keeps the
 * channel's messages and threads so tests can look at what a member would see, and records every
 * call. It also serves `response_url`s, the file upload URLs, and Socket Mode
 * (`apps.connections.open` -> a WebSocket that sends `hello` and envelopes and receives acks).
 */

export interface RecordedCall {
  method: string;
  args: Args;
  /** The bearer token the call carried. */
  token?: string;
  /** ms since epoch. */
  at: number;
  /** Set when the fake answered 429 to this call. */
  rateLimited?: boolean;
  /** The `error` the fake answered, when it refused the call. */
  error?: string;
}

export interface FakeMessage {
  channel: string;
  ts: string;
  text: string;
  blocks: unknown[];
  /** The thread root when the message is a reply. */
  threadTs?: string;
  /** Files shared with the message (three-step upload). */
  files: FakeFile[];
  edits: number;
}

export interface FakeFile {
  id: string;
  filename: string;
  title?: string;
  altText?: string;
  length: number;
  bytes?: Buffer;
}

export interface FakeUser {
  id: string;
  teamId: string;
  name?: string;
  isAdmin?: boolean;
  isOwner?: boolean;
}

export interface FakeSlackOptions {
  botToken?: string;
  appToken?: string;
  teamId?: string;
  appId?: string;
}

export interface ResponseUrlPost {
  id: string;
  body: Record<string, unknown>;
  at: number;
}

const RESPONSE_URL_USES = 5;
const RESPONSE_URL_TTL_MS = 30 * 60 * 1000;
const TRIGGER_TTL_MS = 3000;

export class FakeSlack {
  readonly calls: RecordedCall[] = [];
  readonly messages: FakeMessage[] = [];
  readonly users = new Map<string, FakeUser>();
  readonly responseUrlPosts: ResponseUrlPost[] = [];
  readonly socketMode: FakeSocketMode;
  readonly botToken: string;
  readonly appToken: string;
  readonly teamId: string;
  readonly appId: string;
  readonly botUserId = 'UBOT00001';
  /** Conversations the bot was never invited to: posting there answers `not_in_channel`. */
  readonly outsideChannels = new Set<string>();

  private readonly server: Server;
  private port = 0;
  private tsCounter = 0;
  private readonly pendingUploads = new Map<string, FakeFile & { uploaded: boolean }>();
  private readonly rateLimits = new Map<string, number[]>();
  private readonly triggers = new Map<string, number>();
  private readonly responseUrls = new Map<string, { issuedAt: number; uses: number }>();
  private readonly waiters = new Set<() => void>();

  private constructor(options: FakeSlackOptions) {
    this.botToken = options.botToken ?? 'xoxb-fake-bot-token';
    this.appToken = options.appToken ?? 'xapp-fake-app-token';
    this.teamId = options.teamId ?? 'T0000TEAM';
    this.appId = options.appId ?? 'A0000EASEL';
    this.server = createServer((req, res) => {
      this.route(req, res).catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(error));
      });
    });
    this.socketMode = new FakeSocketMode(this.server, this.appId);
  }

  static async start(options: FakeSlackOptions = {}): Promise<FakeSlack> {
    const fake = new FakeSlack(options);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  /** The Web API base, for SLACK_API_URL. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api/`;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    await this.socketMode.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  addUser(user: FakeUser): void {
    this.users.set(user.id, user);
  }

  /** The next `times` calls of `method` are answered 429 with `Retry-After: retryAfterS`. */
  rateLimitNext(method: string, retryAfterS: number, times = 1): void {
    const queue = this.rateLimits.get(method) ?? [];
    for (let i = 0; i < times; i++) queue.push(retryAfterS);
    this.rateLimits.set(method, queue);
  }

  /** A trigger id as Slack puts in a payload: usable to open a modal for 3 seconds. */
  issueTriggerId(): string {
    const id = `${Date.now()}.${randomBytes(4).readUInt32BE()}.${randomBytes(8).toString('hex')}`;
    this.triggers.set(id, Date.now());
    return id;
  }

  /** A response_url as Slack puts in a payload: 5 uses within 30 minutes. */
  issueResponseUrl(): string {
    const id = randomBytes(8).toString('hex');
    this.responseUrls.set(id, { issuedAt: Date.now(), uses: 0 });
    return `${this.baseUrl}/commands/${this.teamId}/${id}`;
  }

  callsTo(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method && !c.rateLimited && !c.error);
  }

  /** Replies in a thread, oldest first (the root not included). */
  thread(channel: string, threadTs: string): FakeMessage[] {
    return this.messages.filter((m) => m.channel === channel && m.threadTs === threadTs);
  }

  message(channel: string, ts: string): FakeMessage | undefined {
    return this.messages.find((m) => m.channel === channel && m.ts === ts);
  }

  /** Resolves once `check` returns a value (re-checked after every call the fake receives). */
  async waitFor<T>(check: () => T | undefined | false, timeoutMs = 20_000, what = 'a condition'): Promise<T> {
    const first = check();
    if (first) return first;
    return await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        reject(new Error(`fake Slack: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const wake = () => {
        const value = check();
        if (value) {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve(value);
        }
      };
      this.waiters.add(wake);
    });
  }

  private notify(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private nextTs(): string {
    this.tsCounter += 1;
    const seconds = Math.floor(Date.now() / 1000);
    return `${seconds}.${String(this.tsCounter).padStart(6, '0')}`;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const raw = await readRaw(req);
    if (req.method === 'POST' && url.pathname.startsWith('/api/')) {
      await this.apiMethod(url.pathname.slice('/api/'.length), req, raw, res);
    } else if (req.method === 'POST' && url.pathname.startsWith('/upload/v1/')) {
      await this.uploadBytes(url.pathname.slice('/upload/v1/'.length), req, raw, res);
    } else if (req.method === 'POST' && url.pathname.startsWith('/commands/')) {
      this.responseUrl(url.pathname.split('/').pop() ?? '', raw, res);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
    this.notify();
  }

  private async apiMethod(method: string, req: IncomingMessage, raw: Buffer, res: ServerResponse) {
    const args = await parseArgs(req, raw);
    const auth = String(req.headers.authorization ?? '');
    const token = auth.startsWith('Bearer ') ? auth.slice('Bearer '.length) : (args.token as string);
    const call: RecordedCall = { method, args, token, at: Date.now() };
    this.calls.push(call);

    const limited = this.rateLimits.get(method);
    if (limited?.length) {
      const retryAfter = limited.shift() as number;
      call.rateLimited = true;
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': String(retryAfter) });
      res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
      return;
    }

    const answer = this.answer(method, args, token);
    if (answer.ok === false) call.error = String(answer.error);
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(answer));
  }

  private answer(method: string, args: Args, token: string | undefined): Record<string, unknown> {
    if (method === 'apps.connections.open') {
      if (token !== this.appToken) return { ok: false, error: 'invalid_auth' };
      return { ok: true, url: this.socketMode.connectUrl(this.port) };
    }
    if (token !== this.botToken) return { ok: false, error: 'invalid_auth' };
    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: 'https://fake.slack.local/',
          team: 'Fake Team',
          user: 'easel',
          team_id: this.teamId,
          user_id: this.botUserId,
          bot_id: 'B0000EASEL',
          is_enterprise_install: false,
        };
      case 'chat.postMessage':
        return this.postMessage(args);
      case 'chat.update':
        return this.updateMessage(args);
      case 'chat.delete':
        return this.deleteMessage(args);
      case 'chat.postEphemeral':
        return this.postEphemeral(args);
      case 'files.getUploadURLExternal':
        return this.getUploadUrl(args);
      case 'files.completeUploadExternal':
        return this.completeUpload(args);
      case 'views.open':
        return this.openView(args);
      case 'users.info':
        return this.userInfo(args);
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  private postMessage(args: Args): Record<string, unknown> {
    const channel = args.channel;
    if (typeof channel !== 'string' || !channel) return { ok: false, error: 'channel_not_found' };
    if (this.outsideChannels.has(channel)) return { ok: false, error: 'not_in_channel' };
    const text = typeof args.text === 'string' ? args.text : '';
    const blocks = Array.isArray(args.blocks) ? args.blocks : [];
    if (!text && blocks.length === 0) return { ok: false, error: 'no_text' };
    if (args.blocks !== undefined && !Array.isArray(args.blocks))
      return { ok: false, error: 'invalid_blocks' };
    const threadTs = typeof args.thread_ts === 'string' ? args.thread_ts : undefined;
    if (threadTs && !this.message(channel, threadTs)) return { ok: false, error: 'thread_not_found' };
    const message: FakeMessage = { channel, ts: this.nextTs(), text, blocks, threadTs, files: [], edits: 0 };
    this.messages.push(message);
    return {
      ok: true,
      channel,
      ts: message.ts,
      message: { type: 'message', text, blocks, ts: message.ts, thread_ts: threadTs, bot_id: 'B0000EASEL' },
    };
  }

  private updateMessage(args: Args): Record<string, unknown> {
    const message = this.message(String(args.channel), String(args.ts));
    if (!message) return { ok: false, error: 'message_not_found' };
    if (args.blocks !== undefined && !Array.isArray(args.blocks))
      return { ok: false, error: 'invalid_blocks' };
    if (typeof args.text === 'string') message.text = args.text;
    if (Array.isArray(args.blocks)) message.blocks = args.blocks;
    message.edits += 1;
    return { ok: true, channel: message.channel, ts: message.ts, text: message.text };
  }

  private deleteMessage(args: Args): Record<string, unknown> {
    const index = this.messages.findIndex((m) => m.channel === args.channel && m.ts === args.ts);
    if (index < 0) return { ok: false, error: 'message_not_found' };
    this.messages.splice(index, 1);
    return { ok: true, channel: args.channel, ts: args.ts };
  }

  private postEphemeral(args: Args): Record<string, unknown> {
    if (typeof args.channel !== 'string' || !args.channel) return { ok: false, error: 'channel_not_found' };
    if (typeof args.user !== 'string' || !args.user) return { ok: false, error: 'user_not_found' };
    if (!args.text && !Array.isArray(args.blocks)) return { ok: false, error: 'no_text' };
    return { ok: true, message_ts: this.nextTs() };
  }

  private getUploadUrl(args: Args): Record<string, unknown> {
    const filename = args.filename;
    const length = Number(args.length);
    if (typeof filename !== 'string' || !filename) return { ok: false, error: 'invalid_arguments' };
    if (!Number.isInteger(length) || length <= 0) return { ok: false, error: 'invalid_arguments' };
    const id = `F${randomBytes(5).toString('hex').toUpperCase()}`;
    this.pendingUploads.set(id, {
      id,
      filename,
      length,
      altText: typeof args.alt_text === 'string' ? args.alt_text : undefined,
      uploaded: false,
    });
    return { ok: true, upload_url: `${this.baseUrl}/upload/v1/${id}`, file_id: id };
  }

  private async uploadBytes(id: string, req: IncomingMessage, raw: Buffer, res: ServerResponse) {
    const pending = this.pendingUploads.get(id);
    this.calls.push({ method: 'upload', args: { file_id: id, bytes: raw.length }, at: Date.now() });
    if (!pending) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('unknown upload');
      return;
    }
    // @slack/web-api posts the bytes as a multipart form; curl-style raw bodies are accepted too.
    const args = await parseArgs(req, raw);
    const part = Object.values(args).find((v): v is Buffer => Buffer.isBuffer(v));
    pending.bytes = part ?? raw;
    pending.uploaded = true;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`OK - ${pending.bytes.length}`);
  }

  private completeUpload(args: Args): Record<string, unknown> {
    const files = args.files;
    if (!Array.isArray(files) || files.length === 0) return { ok: false, error: 'invalid_arguments' };
    const completed: FakeFile[] = [];
    for (const entry of files as { id?: string; title?: string }[]) {
      const pending = entry.id ? this.pendingUploads.get(entry.id) : undefined;
      if (!pending?.uploaded) return { ok: false, error: 'file_not_found' };
      completed.push({ ...pending, title: entry.title ?? pending.filename });
    }
    for (const file of completed) this.pendingUploads.delete(file.id);
    const channel = typeof args.channel_id === 'string' ? args.channel_id : undefined;
    if (channel && this.outsideChannels.has(channel)) return { ok: false, error: 'not_in_channel' };
    if (channel) {
      const threadTs = typeof args.thread_ts === 'string' ? args.thread_ts : undefined;
      if (threadTs && !this.message(channel, threadTs)) return { ok: false, error: 'thread_not_found' };
      this.messages.push({
        channel,
        ts: this.nextTs(),
        text: typeof args.initial_comment === 'string' ? args.initial_comment : '',
        blocks: Array.isArray(args.blocks) ? args.blocks : [],
        threadTs,
        files: completed,
        edits: 0,
      });
    }
    return { ok: true, files: completed.map((f) => ({ id: f.id, title: f.title, name: f.filename })) };
  }

  private openView(args: Args): Record<string, unknown> {
    const trigger = typeof args.trigger_id === 'string' ? args.trigger_id : '';
    const issuedAt = this.triggers.get(trigger);
    if (issuedAt === undefined) return { ok: false, error: 'invalid_trigger_id' };
    if (Date.now() - issuedAt > TRIGGER_TTL_MS) return { ok: false, error: 'expired_trigger_id' };
    this.triggers.delete(trigger);
    const view = args.view as Record<string, unknown> | undefined;
    if (view?.type !== 'modal') return { ok: false, error: 'invalid_arguments' };
    return { ok: true, view: { id: `V${randomBytes(5).toString('hex').toUpperCase()}`, ...view } };
  }

  private userInfo(args: Args): Record<string, unknown> {
    const user = this.users.get(String(args.user));
    if (!user) return { ok: false, error: 'user_not_found' };
    return {
      ok: true,
      user: {
        id: user.id,
        team_id: user.teamId,
        name: user.name ?? user.id.toLowerCase(),
        real_name: user.name ?? user.id,
        deleted: false,
        is_admin: user.isAdmin ?? false,
        is_owner: user.isOwner ?? false,
        is_primary_owner: false,
        is_bot: false,
      },
    };
  }

  private responseUrl(id: string, raw: Buffer, res: ServerResponse): void {
    const entry = this.responseUrls.get(id);
    const expired =
      !entry || entry.uses >= RESPONSE_URL_USES || Date.now() - entry.issuedAt > RESPONSE_URL_TTL_MS;
    if (expired) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('expired_url');
      return;
    }
    entry.uses += 1;
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('invalid_payload');
      return;
    }
    this.responseUrlPosts.push({ id, body, at: Date.now() });
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  }
}
