import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { type WebSocket, WebSocketServer } from 'ws';

/**
 * The gateway side of the fake: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, and dispatches
 * (`op 0`). Speaks JSON without compression, which is what discord.js asks for when zlib-sync is
 * not installed.
 */
export interface GatewayIdentity {
  user: Record<string, unknown>;
  applicationId: string;
  /** Full GUILD_CREATE payloads, sent after READY. */
  guilds: () => Record<string, unknown>[];
}

interface Session {
  socket: WebSocket;
  sequence: number;
  identified: boolean;
  token?: string;
  intents?: number;
}

export class FakeGateway {
  private readonly wss: WebSocketServer;
  private readonly sessions = new Set<Session>();
  /** Tokens and intents of every IDENTIFY received, in order. */
  readonly identifies: { token: string; intents: number }[] = [];
  private readyWaiters: (() => void)[] = [];

  constructor(
    server: Server,
    private readonly url: () => string,
    private readonly identity: GatewayIdentity,
  ) {
    this.wss = new WebSocketServer({ server });
    this.wss.on('connection', (socket) => this.open(socket));
  }

  private open(socket: WebSocket): void {
    const session: Session = { socket, sequence: 0, identified: false };
    this.sessions.add(session);
    socket.on('close', () => this.sessions.delete(session));
    socket.on('error', () => this.sessions.delete(session));
    socket.on('message', (raw) => this.receive(session, raw.toString()));
    this.send(session, { op: 10, d: { heartbeat_interval: 41_250 }, s: null, t: null });
  }

  private receive(session: Session, text: string): void {
    const packet = JSON.parse(text) as { op: number; d: Record<string, unknown> | number | null };
    switch (packet.op) {
      case 1: // heartbeat
        this.send(session, { op: 11, d: null, s: null, t: null });
        return;
      case 2: {
        const d = packet.d as { token: string; intents: number };
        session.identified = true;
        session.token = d.token;
        session.intents = d.intents;
        this.identifies.push({ token: d.token, intents: d.intents });
        const guilds = this.identity.guilds();
        this.dispatchTo(session, 'READY', {
          v: 10,
          user: this.identity.user,
          guilds: guilds.map((g) => ({ id: g.id, unavailable: true })),
          session_id: randomBytes(16).toString('hex'),
          resume_gateway_url: this.url(),
          shard: [0, 1],
          application: { id: this.identity.applicationId, flags: 0 },
        });
        for (const guild of guilds) this.dispatchTo(session, 'GUILD_CREATE', guild);
        for (const wake of this.readyWaiters.splice(0)) wake();
        return;
      }
      case 6: // resume: sessions are not kept, so ask for a fresh IDENTIFY
        this.send(session, { op: 9, d: false, s: null, t: null });
        return;
      default:
        return;
    }
  }

  private send(session: Session, packet: Record<string, unknown>): void {
    if (session.socket.readyState === session.socket.OPEN) session.socket.send(JSON.stringify(packet));
  }

  private dispatchTo(session: Session, t: string, d: unknown): void {
    session.sequence += 1;
    this.send(session, { op: 0, t, s: session.sequence, d });
  }

  /** Sends an event to every identified session (one bot process, or none while it restarts). */
  dispatch(t: string, d: unknown): number {
    let sent = 0;
    for (const session of this.sessions) {
      if (!session.identified) continue;
      this.dispatchTo(session, t, d);
      sent += 1;
    }
    return sent;
  }

  get connectedBots(): number {
    return [...this.sessions].filter((s) => s.identified).length;
  }

  /** Resolves once some session has identified (after READY and GUILD_CREATE were sent). */
  waitForIdentify(): Promise<void> {
    if (this.connectedBots > 0) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  async close(): Promise<void> {
    for (const session of this.sessions) session.socket.terminate();
    this.sessions.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
