import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { FakeGateway } from './gateway.ts';
import { parseBody, readRaw, type UploadedFile } from './request-body.ts';
import { snowflake, snowflakeTime } from './snowflake.ts';
import {
  checkAutocomplete,
  checkCommands,
  checkFileSizes,
  checkMessagePayload,
  checkModal,
  WireViolation,
} from './wire-checks.ts';

/**
 * A local Discord: the HTTP API (v10) and the gateway, enough of both for the real discord.js client
 * to log in, receive interactions and answer them, post files, open threads and register commands.
 * Every HTTP call is recorded. Behaviour follows discord-api-docs: the 3-second first-response
 * deadline (10062), one acknowledgement per interaction (40060), interaction tokens that die 15
 * minutes after the interaction (50027), one thread per message (160004), nonce-deduplicated
 * channel messages, payload limits (50035, 40005). Failures can be switched on: 50027 on webhook
 * edits, 429 with `retry_after`.
 */

const CHANNEL_TEXT = 0;
const CHANNEL_PUBLIC_THREAD = 11;

export interface FakeChannel {
  id: string;
  type: number;
  name: string;
  guild_id: string;
  nsfw: boolean;
  parent_id: string | null;
}

export interface FakeAttachment {
  id: string;
  filename: string;
  size: number;
  content_type: string;
  url: string;
  bytes: Buffer;
  description?: string;
}

export interface FakeMessage {
  id: string;
  channel_id: string;
  guild_id: string;
  content: string;
  embeds: unknown[];
  components: unknown[];
  attachments: FakeAttachment[];
  flags: number;
  nonce?: string;
  /** How the message was made: an interaction response, a follow-up, or the bot token. */
  via: 'interaction' | 'followup' | 'bot';
  interactionId?: string;
  /** The thread started from this message (its id equals the message id). */
  threadId?: string;
  deleted?: boolean;
  edits: number;
}

export interface FakeGuild {
  id: string;
  name: string;
  ownerId: string;
  roles: { id: string; name: string; permissions: string }[];
}

export interface RecordedCall {
  /** performance.now() when the request arrived. */
  at: number;
  method: string;
  /** Path after /api/v10, percent-decoded (`@original`). */
  path: string;
  /** The route with ids replaced, e.g. `POST /interactions/:id/:token/callback`. */
  route: string;
  query: Record<string, string>;
  authorization?: string;
  json: Record<string, unknown> | unknown[] | undefined;
  files: UploadedFile[];
  status: number;
  response: unknown;
}

export interface FakeInteraction {
  id: string;
  token: string;
  applicationId: string;
  guildId: string;
  channelId: string;
  type: number;
  /** performance.now() when it was dispatched; the first callback must come within 3 s. */
  dispatchedAt: number;
  attachmentSizeLimit: number;
  /** For a component or modal: the message the component sits on. */
  sourceMessageId?: string;
  ack?: { type: number; at: number; callId: number };
  originalMessageId?: string;
}

interface RateLimitRule {
  method: string;
  route: string;
  retryAfter: number;
  remaining: number;
}

export interface FakeDiscordOptions {
  botToken?: string;
  applicationId?: string;
  /** Per-file limit for bot-token channel messages (an unboosted guild: 10 MiB). */
  channelFileLimit?: number;
}

const DEFAULT_FILE_LIMIT = 10 * 1024 * 1024;
const FIRST_RESPONSE_MS = 3000;
const TOKEN_LIFETIME_MS = 15 * 60 * 1000;

class RouteError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export class FakeDiscord extends EventEmitter {
  readonly botToken: string;
  readonly applicationId: string;
  readonly botUser: Record<string, unknown>;
  readonly calls: RecordedCall[] = [];
  readonly guilds = new Map<string, FakeGuild>();
  readonly channels = new Map<string, FakeChannel>();
  readonly messages = new Map<string, FakeMessage>();
  readonly interactions = new Map<string, FakeInteraction>();
  private readonly byToken = new Map<string, FakeInteraction>();
  /** Registered commands: key `global` or a guild id. */
  readonly commands = new Map<string, Record<string, unknown>[]>();
  private readonly nonces = new Map<string, string>();
  private readonly cdn = new Map<string, FakeAttachment>();
  private readonly server: Server;
  private gateway!: FakeGateway;
  private port = 0;
  /** TCP connections accepted so far (clients that reuse keep-alive connections open few). */
  connections = 0;
  private webhookEditFailures = 0;
  private readonly rateLimits: RateLimitRule[] = [];
  private readonly channelFileLimit: number;

  constructor(options: FakeDiscordOptions = {}) {
    super();
    this.setMaxListeners(0);
    this.botToken = options.botToken ?? 'fake.bot.token';
    this.applicationId = options.applicationId ?? snowflake();
    this.channelFileLimit = options.channelFileLimit ?? DEFAULT_FILE_LIMIT;
    this.botUser = {
      id: this.applicationId,
      username: 'easel',
      discriminator: '0',
      global_name: null,
      avatar: null,
      bot: true,
    };
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) this.json(res, 500, { message: String(error), code: 0 });
      });
    });
  }

  async start(): Promise<this> {
    // A deep accept queue: a burst of interactions opens hundreds of connections at once, and the
    // default (511) drops SYNs, which the client's TCP retries a second or three later.
    await new Promise<void>((resolve) =>
      this.server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve),
    );
    this.server.on('connection', () => {
      this.connections += 1;
    });
    this.port = (this.server.address() as AddressInfo).port;
    this.gateway = new FakeGateway(this.server, () => this.gatewayUrl, {
      user: this.botUser,
      applicationId: this.applicationId,
      guilds: () => [...this.guilds.values()].map((g) => this.guildCreatePayload(g)),
    });
    return this;
  }

  async stop(): Promise<void> {
    await this.gateway.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The value for DISCORD_API_BASE (discord.js's `rest.api`). */
  get apiBase(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  get identifies(): { token: string; intents: number }[] {
    return this.gateway.identifies;
  }

  get connectedBots(): number {
    return this.gateway.connectedBots;
  }

  waitForBot(): Promise<void> {
    return this.gateway.waitForIdentify();
  }

  // ---- world set-up -------------------------------------------------------------------------

  addGuild(name = 'Test Guild'): FakeGuild {
    const id = snowflake();
    // @everyone has the guild's id; members get their permissions in the interaction payload.
    const guild: FakeGuild = {
      id,
      name,
      ownerId: snowflake(),
      roles: [{ id, name: '@everyone', permissions: '0' }],
    };
    this.guilds.set(id, guild);
    return guild;
  }

  addRole(guildId: string, name: string): string {
    const id = snowflake();
    this.guilds.get(guildId)!.roles.push({ id, name, permissions: '0' });
    return id;
  }

  addChannel(guildId: string, options: { name?: string; nsfw?: boolean; type?: number } = {}): FakeChannel {
    const channel: FakeChannel = {
      id: snowflake(),
      type: options.type ?? CHANNEL_TEXT,
      name: options.name ?? 'general',
      guild_id: guildId,
      nsfw: options.nsfw ?? false,
      parent_id: null,
    };
    this.channels.set(channel.id, channel);
    return channel;
  }

  /** A thread that already exists (a member runs the command inside it). */
  addThread(parentId: string, name = 'a thread'): FakeChannel {
    const parent = this.channels.get(parentId)!;
    const thread: FakeChannel = {
      id: snowflake(),
      type: CHANNEL_PUBLIC_THREAD,
      name,
      guild_id: parent.guild_id,
      nsfw: false,
      parent_id: parentId,
    };
    this.channels.set(thread.id, thread);
    return thread;
  }

  /** Serves bytes on the fake CDN as an attachment a member uploaded, for `resolved.attachments`. */
  addUpload(channelId: string, filename: string, bytes: Buffer, contentType: string): FakeAttachment {
    const id = snowflake();
    const attachment: FakeAttachment = {
      id,
      filename,
      size: bytes.length,
      content_type: contentType,
      url: `http://127.0.0.1:${this.port}/attachments/${channelId}/${id}/${encodeURIComponent(filename)}`,
      bytes,
    };
    this.cdn.set(id, attachment);
    return attachment;
  }

  // ---- failure modes ------------------------------------------------------------------------

  /** The next `times` webhook message edits answer 401 Invalid Webhook Token (50027). */
  failWebhookEdits(times = Number.POSITIVE_INFINITY): void {
    this.webhookEditFailures = times;
  }

  /** The next `times` requests on `METHOD /route` answer 429 with `retry_after` seconds. */
  rateLimitNext(methodRoute: string, retryAfter: number, times = 1): void {
    const [method, route] = methodRoute.split(' ') as [string, string];
    this.rateLimits.push({ method, route, retryAfter, remaining: times });
  }

  /** Back to a healthy Discord. */
  clearFailures(): void {
    this.webhookEditFailures = 0;
    this.rateLimits.length = 0;
  }

  // ---- interactions -------------------------------------------------------------------------

  /** Sends INTERACTION_CREATE to the bot and starts the 3-second clock. */
  dispatchInteraction(payload: Record<string, unknown>): FakeInteraction {
    const interaction: FakeInteraction = {
      id: payload.id as string,
      token: payload.token as string,
      applicationId: payload.application_id as string,
      guildId: payload.guild_id as string,
      channelId: (payload.channel as { id: string }).id,
      type: payload.type as number,
      dispatchedAt: performance.now(),
      attachmentSizeLimit: payload.attachment_size_limit as number,
      sourceMessageId: (payload.message as { id?: string } | undefined)?.id,
    };
    this.interactions.set(interaction.id, interaction);
    this.byToken.set(interaction.token, interaction);
    this.gateway.dispatch('INTERACTION_CREATE', payload);
    return interaction;
  }

  /** The first callback for an interaction, once it arrives. */
  firstCallback(interactionId: string, timeoutMs = 5000): Promise<RecordedCall> {
    return this.waitForCall(
      (c) => c.route === 'POST /interactions/:id/:token/callback' && c.path.split('/')[2] === interactionId,
      timeoutMs,
    );
  }

  /** Resolves with the first recorded call (past or future) that matches. */
  waitForCall(match: (call: RecordedCall) => boolean, timeoutMs = 10_000): Promise<RecordedCall> {
    const found = this.calls.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('call', listener);
        reject(new Error(`no matching Discord call within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (call: RecordedCall) => {
        if (!match(call)) return;
        clearTimeout(timer);
        this.off('call', listener);
        resolve(call);
      };
      this.on('call', listener);
    });
  }

  /** Resolves when `check()` returns a value (re-checked after every call and every 25 ms). */
  waitUntil<T>(check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
    const now = check();
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const finish = (error?: Error, value?: T) => {
        clearTimeout(timer);
        clearInterval(poll);
        this.off('call', listener);
        if (error) reject(error);
        else resolve(value as T);
      };
      const listener = () => {
        const value = check();
        if (value) finish(undefined, value);
      };
      const timer = setTimeout(
        () => finish(new Error(`condition not met within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const poll = setInterval(listener, 25);
      this.on('call', listener);
    });
  }

  messagesIn(channelId: string): FakeMessage[] {
    return [...this.messages.values()].filter((m) => m.channel_id === channelId && !m.deleted);
  }

  originalOf(interactionId: string): FakeMessage | undefined {
    const id = this.interactions.get(interactionId)?.originalMessageId;
    return id ? this.messages.get(id) : undefined;
  }

  callsTo(methodRoute: string): RecordedCall[] {
    return this.calls.filter((c) => c.route === methodRoute);
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = performance.now();
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    const raw = await readRaw(req);
    if (url.pathname.startsWith('/attachments/')) return this.serveCdn(url.pathname, res);
    const prefix = '/api/v10';
    const rawPath = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : url.pathname;
    const path = decodeURIComponent(rawPath);
    const method = req.method ?? 'GET';
    const route = `${method} ${routeOf(path)}`;
    const body = await parseBody(req, raw);
    const call: RecordedCall = {
      at,
      method,
      path,
      route,
      query: Object.fromEntries(url.searchParams),
      authorization: req.headers.authorization,
      json: body.json,
      files: body.files,
      status: 0,
      response: undefined,
    };
    let status = 200;
    let response: unknown;
    const headers: Record<string, string> = {};
    try {
      const limited = this.rateLimits.find((r) => r.remaining > 0 && `${r.method} ${r.route}` === route);
      if (limited) {
        limited.remaining -= 1;
        status = 429;
        headers['retry-after'] = String(limited.retryAfter);
        headers['x-ratelimit-limit'] = '5';
        headers['x-ratelimit-remaining'] = '0';
        headers['x-ratelimit-reset-after'] = String(limited.retryAfter);
        headers['x-ratelimit-bucket'] = 'fakebucket';
        headers['x-ratelimit-scope'] = 'user';
        response = { message: 'You are being rate limited.', retry_after: limited.retryAfter, global: false };
      } else if (!url.pathname.startsWith(prefix)) {
        throw new RouteError(404, 0, '404: Not Found');
      } else {
        [status, response] = await this.route(method, path, routeOf(path), call, body.rawBytes);
      }
    } catch (error) {
      if (error instanceof WireViolation) {
        status = error.status;
        response = error.toBody();
      } else if (error instanceof RouteError) {
        status = error.status;
        response = { message: error.message, code: error.code };
      } else {
        throw error;
      }
    }
    call.status = status;
    call.response = response;
    this.calls.push(call);
    if (status === 204) {
      res.writeHead(204, headers);
      res.end();
    } else {
      this.json(res, status, response, headers);
    }
    this.emit('call', call);
  }

  private json(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body ?? null));
  }

  private serveCdn(pathname: string, res: ServerResponse): void {
    const id = pathname.split('/')[3] ?? '';
    const attachment = this.cdn.get(id);
    if (!attachment) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, {
      'content-type': attachment.content_type,
      'content-length': attachment.bytes.length,
    });
    res.end(attachment.bytes);
  }

  private async route(
    method: string,
    path: string,
    route: string,
    call: RecordedCall,
    rawBytes: number,
  ): Promise<[number, unknown]> {
    const parts = path.split('/').filter(Boolean);
    const json = call.json as Record<string, unknown> | undefined;
    switch (`${method} ${route}`) {
      case 'GET /gateway/bot':
        this.requireBot(call);
        return [
          200,
          {
            url: this.gatewayUrl,
            shards: 1,
            session_start_limit: { total: 1000, remaining: 999, reset_after: 86_400_000, max_concurrency: 1 },
          },
        ];
      case 'GET /users/@me':
        this.requireBot(call);
        return [200, this.botUser];
      case 'PUT /applications/:id/commands':
      case 'PUT /applications/:id/guilds/:id/commands':
        this.requireBot(call);
        return [200, this.overwriteCommands(parts[1]!, parts[3] ?? 'global', call.json)];
      case 'GET /applications/:id/commands':
      case 'GET /applications/:id/guilds/:id/commands':
        this.requireBot(call);
        return [200, this.commands.get(parts[3] ?? 'global') ?? []];
      case 'POST /interactions/:id/:token/callback':
        return this.callback(parts[1]!, parts[2]!, json ?? {}, call, rawBytes);
      case 'POST /webhooks/:id/:token':
        return [200, this.followUp(parts[1]!, parts[2]!, json ?? {}, call, rawBytes)];
      case 'GET /webhooks/:id/:token/messages/:id':
        return [200, this.serialize(this.webhookMessage(parts[1]!, parts[2]!, parts[4]!))];
      case 'PATCH /webhooks/:id/:token/messages/:id':
        return [200, this.editWebhookMessage(parts[1]!, parts[2]!, parts[4]!, json ?? {}, call, rawBytes)];
      case 'DELETE /webhooks/:id/:token/messages/:id': {
        const message = this.webhookMessage(parts[1]!, parts[2]!, parts[4]!);
        message.deleted = true;
        return [204, undefined];
      }
      case 'GET /channels/:id':
        this.requireBot(call);
        return [200, this.channelPayload(this.channel(parts[1]!))];
      case 'POST /channels/:id/messages':
        this.requireBot(call);
        return [200, this.createChannelMessage(parts[1]!, json ?? {}, call, rawBytes)];
      case 'GET /channels/:id/messages/:id':
        this.requireBot(call);
        return [200, this.serialize(this.channelMessage(parts[1]!, parts[3]!))];
      case 'PATCH /channels/:id/messages/:id': {
        this.requireBot(call);
        const message = this.channelMessage(parts[1]!, parts[3]!);
        checkMessagePayload(json, call.files);
        checkFileSizes(call.files, this.channelFileLimit, rawBytes);
        this.applyEdit(message, json ?? {}, call.files);
        return [200, this.serialize(message)];
      }
      case 'POST /channels/:id/messages/:id/threads':
        this.requireBot(call);
        return [201, this.startThread(parts[1]!, parts[3]!, json ?? {})];
      default:
        throw new RouteError(404, 0, `404: Not Found (${method} ${route})`);
    }
  }

  private requireBot(call: RecordedCall): void {
    if (call.authorization !== `Bot ${this.botToken}`) throw new RouteError(401, 0, '401: Unauthorized');
  }

  private overwriteCommands(appId: string, key: string, body: unknown): Record<string, unknown>[] {
    if (appId !== this.applicationId) throw new RouteError(403, 50001, 'Missing Access');
    if (key !== 'global' && !this.guilds.has(key)) throw new RouteError(403, 50001, 'Missing Access');
    checkCommands(body);
    const commands = (body as Record<string, unknown>[]).map((c) => ({
      ...c,
      id: snowflake(),
      application_id: appId,
      version: snowflake(),
      ...(key === 'global' ? {} : { guild_id: key }),
    }));
    this.commands.set(key, commands);
    return commands;
  }

  private interaction(id: string, token: string): FakeInteraction {
    const interaction = this.interactions.get(id);
    if (!interaction || interaction.token !== token) throw new RouteError(404, 10062, 'Unknown interaction');
    return interaction;
  }

  private callback(
    id: string,
    token: string,
    json: Record<string, unknown>,
    call: RecordedCall,
    rawBytes: number,
  ): [number, unknown] {
    const interaction = this.interaction(id, token);
    if (interaction.ack) throw new RouteError(400, 40060, 'Interaction has already been acknowledged.');
    if (performance.now() - interaction.dispatchedAt > FIRST_RESPONSE_MS) {
      throw new RouteError(404, 10062, 'Unknown interaction');
    }
    const type = json.type as number;
    const data = (json.data ?? {}) as Record<string, unknown>;
    let message: FakeMessage | undefined;
    switch (type) {
      case 4: // CHANNEL_MESSAGE_WITH_SOURCE
      case 5: // DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
        if (interaction.type === 4) throw new RouteError(400, 50035, 'Invalid Form Body: type');
        checkMessagePayload(data, call.files);
        checkFileSizes(call.files, interaction.attachmentSizeLimit, rawBytes);
        message = this.newMessage(interaction.channelId, interaction.guildId, 'interaction');
        message.interactionId = interaction.id;
        if (type === 4) this.applyEdit(message, data, call.files);
        else message.content = '';
        message.flags = (data.flags as number | undefined) ?? 0;
        if (type === 5) message.flags |= 128; // LOADING
        interaction.originalMessageId = message.id;
        break;
      case 6: // DEFERRED_UPDATE_MESSAGE
      case 7: // UPDATE_MESSAGE
        if (!interaction.sourceMessageId) throw new RouteError(400, 50035, 'Invalid Form Body: type');
        interaction.originalMessageId = interaction.sourceMessageId;
        if (type === 7) {
          checkMessagePayload(data, call.files);
          message = this.messages.get(interaction.sourceMessageId)!;
          this.applyEdit(message, data, call.files);
        }
        break;
      case 8: // APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
        if (interaction.type !== 4) throw new RouteError(400, 50035, 'Invalid Form Body: type');
        checkAutocomplete(data);
        break;
      case 9: // MODAL
        if (interaction.type === 5)
          throw new RouteError(400, 50035, 'Invalid Form Body: a modal cannot answer a modal');
        checkModal(data);
        break;
      default:
        throw new RouteError(400, 50035, `Invalid Form Body: type ${type}`);
    }
    interaction.ack = { type, at: performance.now(), callId: this.calls.length };
    if (call.query.with_response === 'true') {
      return [
        200,
        {
          interaction: {
            id,
            type: interaction.type,
            response_message_id: interaction.originalMessageId ?? null,
          },
          resource: { type, ...(message ? { message: this.serialize(message) } : {}) },
        },
      ];
    }
    return [204, undefined];
  }

  /** Webhook routes accept the interaction token for 15 minutes after the interaction. */
  private webhookInteraction(appId: string, token: string): FakeInteraction {
    const interaction = this.byToken.get(token);
    if (!interaction || appId !== interaction.applicationId) {
      throw new RouteError(401, 50027, 'Invalid Webhook Token');
    }
    if (Date.now() - snowflakeTime(interaction.id) > TOKEN_LIFETIME_MS) {
      throw new RouteError(401, 50027, 'Invalid Webhook Token');
    }
    if (!interaction.ack) throw new RouteError(404, 10015, 'Unknown Webhook');
    return interaction;
  }

  private webhookMessage(appId: string, token: string, messageId: string): FakeMessage {
    const interaction = this.webhookInteraction(appId, token);
    const id = messageId === '@original' ? interaction.originalMessageId : messageId;
    const message = id ? this.messages.get(id) : undefined;
    if (!message || message.deleted) throw new RouteError(404, 10008, 'Unknown Message');
    return message;
  }

  private editWebhookMessage(
    appId: string,
    token: string,
    messageId: string,
    json: Record<string, unknown>,
    call: RecordedCall,
    rawBytes: number,
  ): unknown {
    if (this.webhookEditFailures > 0) {
      this.webhookEditFailures -= 1;
      throw new RouteError(401, 50027, 'Invalid Webhook Token');
    }
    const interaction = this.webhookInteraction(appId, token);
    const message = this.webhookMessage(appId, token, messageId);
    checkMessagePayload(json, call.files);
    checkFileSizes(call.files, interaction.attachmentSizeLimit, rawBytes);
    this.applyEdit(message, json, call.files);
    message.flags &= ~128;
    return this.serialize(message);
  }

  private followUp(
    appId: string,
    token: string,
    json: Record<string, unknown>,
    call: RecordedCall,
    rawBytes: number,
  ): unknown {
    const interaction = this.webhookInteraction(appId, token);
    checkMessagePayload(json, call.files);
    checkFileSizes(call.files, interaction.attachmentSizeLimit, rawBytes);
    const message = this.newMessage(interaction.channelId, interaction.guildId, 'followup');
    message.interactionId = interaction.id;
    this.applyEdit(message, json, call.files);
    message.flags = (json.flags as number | undefined) ?? 0;
    return this.serialize(message);
  }

  private channel(id: string): FakeChannel {
    const channel = this.channels.get(id);
    if (!channel) throw new RouteError(404, 10003, 'Unknown Channel');
    return channel;
  }

  private channelMessage(channelId: string, messageId: string): FakeMessage {
    this.channel(channelId);
    const message = this.messages.get(messageId);
    if (!message || message.deleted || message.channel_id !== channelId) {
      throw new RouteError(404, 10008, 'Unknown Message');
    }
    return message;
  }

  private createChannelMessage(
    channelId: string,
    json: Record<string, unknown>,
    call: RecordedCall,
    rawBytes: number,
  ): unknown {
    const channel = this.channel(channelId);
    checkMessagePayload(json, call.files);
    checkFileSizes(call.files, this.channelFileLimit, rawBytes);
    const nonce = json.nonce === undefined ? undefined : String(json.nonce);
    if (nonce !== undefined && nonce.length > 25)
      throw new WireViolation(400, 50035, 'Invalid Form Body: nonce', 'nonce');
    // enforce_nonce: a second create with the same nonce returns the first message (Discord keeps
    // nonces for a few minutes; the fake keeps them for its whole life).
    if (nonce !== undefined && json.enforce_nonce === true) {
      const existing = this.nonces.get(`${channelId}:${nonce}`);
      if (existing) return this.serialize(this.messages.get(existing)!);
    }
    const message = this.newMessage(channel.id, channel.guild_id, 'bot');
    this.applyEdit(message, json, call.files);
    if (nonce !== undefined) {
      message.nonce = nonce;
      this.nonces.set(`${channelId}:${nonce}`, message.id);
    }
    return this.serialize(message);
  }

  private startThread(channelId: string, messageId: string, json: Record<string, unknown>): unknown {
    const parent = this.channel(channelId);
    const message = this.channelMessage(channelId, messageId);
    if (parent.type !== CHANNEL_TEXT)
      throw new RouteError(400, 50024, 'Cannot execute action on this channel type');
    const name = json.name;
    if (typeof name !== 'string' || name.length < 1 || name.length > 100) {
      throw new WireViolation(
        400,
        50035,
        'Invalid Form Body: name: Must be between 1 and 100 in length.',
        'name',
      );
    }
    const archive = json.auto_archive_duration;
    if (archive !== undefined && ![60, 1440, 4320, 10080].includes(archive as number)) {
      throw new WireViolation(
        400,
        50035,
        'Invalid Form Body: auto_archive_duration',
        'auto_archive_duration',
      );
    }
    if (message.threadId)
      throw new RouteError(400, 160004, 'A thread has already been created for this message');
    const thread: FakeChannel = {
      id: message.id,
      type: CHANNEL_PUBLIC_THREAD,
      name,
      guild_id: parent.guild_id,
      nsfw: false,
      parent_id: parent.id,
    };
    this.channels.set(thread.id, thread);
    message.threadId = thread.id;
    const payload = { ...this.channelPayload(thread), newly_created: true };
    this.gateway.dispatch('THREAD_CREATE', payload);
    return payload;
  }

  private newMessage(channelId: string, guildId: string, via: FakeMessage['via']): FakeMessage {
    const message: FakeMessage = {
      id: snowflake(),
      channel_id: channelId,
      guild_id: guildId,
      content: '',
      embeds: [],
      components: [],
      attachments: [],
      flags: 0,
      via,
      edits: 0,
    };
    this.messages.set(message.id, message);
    return message;
  }

  /**
   * Applies message fields. `attachments` in the payload lists what to keep (existing ids) and
   * describes new uploads (`id` = the n of `files[n]`); without it, uploads are added.
   */
  private applyEdit(message: FakeMessage, json: Record<string, unknown>, files: UploadedFile[]): void {
    if (typeof json.content === 'string') message.content = json.content;
    if (Array.isArray(json.embeds)) message.embeds = json.embeds;
    if (Array.isArray(json.components)) message.components = json.components;
    const upload = (file: UploadedFile, description?: string): FakeAttachment => {
      const attachment = this.addUpload(message.channel_id, file.name, file.bytes, file.contentType);
      if (description) attachment.description = description;
      return attachment;
    };
    const listed = json.attachments as
      | { id: string | number; filename?: string; description?: string }[]
      | undefined;
    if (Array.isArray(listed)) {
      const kept: FakeAttachment[] = [];
      for (const entry of listed) {
        const existing = message.attachments.find((a) => a.id === String(entry.id));
        if (existing) {
          kept.push(existing);
          continue;
        }
        const file = files.find((f) => f.field === `files[${entry.id}]`);
        if (!file) throw new WireViolation(400, 50035, `Invalid Form Body: attachments: unknown ${entry.id}`);
        if (entry.filename) file.name = entry.filename;
        kept.push(upload(file, entry.description));
      }
      message.attachments = kept;
    } else {
      for (const file of files) message.attachments.push(upload(file));
    }
    if (
      message.edits >= 0 &&
      (json.content !== undefined || files.length > 0 || json.components !== undefined)
    ) {
      message.edits += 1;
    }
  }

  serialize(message: FakeMessage): Record<string, unknown> {
    return {
      id: message.id,
      type: message.via === 'interaction' ? 20 : 0,
      channel_id: message.channel_id,
      guild_id: message.guild_id,
      author: this.botUser,
      content: message.content,
      timestamp: new Date(Number(snowflakeTime(message.id))).toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: message.attachments.map(({ bytes: _bytes, ...a }) => a),
      embeds: message.embeds,
      pinned: false,
      components: message.components,
      flags: message.flags,
      ...(message.nonce === undefined ? {} : { nonce: message.nonce }),
      ...(message.via === 'bot'
        ? {}
        : { webhook_id: this.applicationId, application_id: this.applicationId }),
      ...(message.threadId ? { thread: this.channelPayload(this.channels.get(message.threadId)!) } : {}),
    };
  }

  channelPayload(channel: FakeChannel): Record<string, unknown> {
    const base = {
      id: channel.id,
      type: channel.type,
      name: channel.name,
      guild_id: channel.guild_id,
      flags: 0,
    };
    if (channel.type === CHANNEL_PUBLIC_THREAD) {
      return {
        ...base,
        parent_id: channel.parent_id,
        owner_id: this.applicationId,
        message_count: 0,
        member_count: 1,
        rate_limit_per_user: 0,
        thread_metadata: {
          archived: false,
          auto_archive_duration: 1440,
          archive_timestamp: new Date().toISOString(),
          locked: false,
        },
      };
    }
    return {
      ...base,
      nsfw: channel.nsfw,
      parent_id: null,
      position: 0,
      permission_overwrites: [],
      topic: null,
    };
  }

  private guildCreatePayload(guild: FakeGuild): Record<string, unknown> {
    const channels = [...this.channels.values()].filter((c) => c.guild_id === guild.id);
    return {
      id: guild.id,
      name: guild.name,
      icon: null,
      owner_id: guild.ownerId,
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      roles: guild.roles.map((r, position) => ({
        ...r,
        color: 0,
        hoist: false,
        position,
        managed: false,
        mentionable: false,
        flags: 0,
      })),
      emojis: [],
      stickers: [],
      features: [],
      mfa_level: 0,
      system_channel_id: null,
      system_channel_flags: 0,
      rules_channel_id: null,
      vanity_url_code: null,
      description: null,
      banner: null,
      premium_tier: 0,
      preferred_locale: 'en-US',
      public_updates_channel_id: null,
      nsfw_level: 0,
      premium_progress_bar_enabled: false,
      joined_at: new Date().toISOString(),
      large: false,
      unavailable: false,
      member_count: 2,
      voice_states: [],
      members: [],
      channels: channels.filter((c) => c.type !== CHANNEL_PUBLIC_THREAD).map((c) => this.channelPayload(c)),
      threads: channels.filter((c) => c.type === CHANNEL_PUBLIC_THREAD).map((c) => this.channelPayload(c)),
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }
}

/** `/channels/123/messages/456` → `/channels/:id/messages/:id` (tokens too, and `@original`). */
function routeOf(path: string): string {
  const parts = path.split('/');
  const out = parts.map((part, i) => {
    if (/^\d{15,21}$/.test(part) || part === '@original') return ':id';
    if (parts[i - 2] === 'webhooks' || parts[i - 2] === 'interactions') return ':token';
    return part;
  });
  return out.join('/');
}
