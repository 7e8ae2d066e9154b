import { randomBytes } from 'node:crypto';
import type { FakeAttachment, FakeChannel, FakeDiscord, FakeMessage } from './fake-discord.ts';
import { snowflake } from './snowflake.ts';

/**
 * INTERACTION_CREATE payloads as Discord sends them (discord-api-docs "Interaction Object"): slash
 * commands, autocomplete, button presses and modal submits, from a member of a guild.
 */

export const PERMISSION_MANAGE_GUILD = 1n << 5n;
/** What an ordinary member holds: view, send, send in threads, attach files, use commands. */
export const MEMBER_PERMISSIONS = (1n << 10n) | (1n << 11n) | (1n << 38n) | (1n << 15n) | (1n << 31n);
const BOT_PERMISSIONS = MEMBER_PERMISSIONS | (1n << 35n) | (1n << 36n);

export interface FakeMember {
  id: string;
  username: string;
  roles?: string[];
  permissions?: bigint;
}

export function member(username: string, options: Partial<Omit<FakeMember, 'username'>> = {}): FakeMember {
  return {
    id: options.id ?? snowflake(),
    username,
    roles: options.roles ?? [],
    permissions: options.permissions,
  };
}

export interface CommandOption {
  name: string;
  type: number;
  value?: string | number | boolean;
  focused?: boolean;
  options?: CommandOption[];
}

/** Option types (discord-api-docs "Application Command Option Type"). */
export const OPT = {
  SUB_COMMAND: 1,
  STRING: 3,
  INTEGER: 4,
  BOOLEAN: 5,
  USER: 6,
  ROLE: 8,
  NUMBER: 10,
  ATTACHMENT: 11,
};

interface Base {
  fake: FakeDiscord;
  channel: FakeChannel;
  user: FakeMember;
  /** Milliseconds since the interaction was created (its id carries the time): for token expiry. */
  age?: number;
  attachmentSizeLimit?: number;
}

function base(
  type: number,
  { fake, channel, user, age = 0, attachmentSizeLimit }: Base,
): Record<string, unknown> {
  const permissions = user.permissions ?? MEMBER_PERMISSIONS;
  return {
    id: snowflake(Date.now() - age),
    application_id: fake.applicationId,
    type,
    token: `aW50ZXJhY3Rpb246${randomBytes(24).toString('base64url')}`,
    version: 1,
    guild_id: channel.guild_id,
    channel: fake.channelPayload(channel),
    channel_id: channel.id,
    member: {
      user: {
        id: user.id,
        username: user.username,
        discriminator: '0',
        global_name: user.username,
        avatar: null,
      },
      roles: user.roles ?? [],
      permissions: permissions.toString(),
      joined_at: new Date(0).toISOString(),
      nick: null,
      avatar: null,
      deaf: false,
      mute: false,
      flags: 0,
      pending: false,
    },
    app_permissions: BOT_PERMISSIONS.toString(),
    locale: 'en-US',
    guild_locale: 'en-US',
    entitlements: [],
    authorizing_integration_owners: { '0': channel.guild_id },
    context: 0,
    attachment_size_limit: attachmentSizeLimit ?? 10 * 1024 * 1024,
  };
}

export function slashCommand(
  args: Base & {
    name: string;
    options?: CommandOption[];
    attachments?: FakeAttachment[];
    /** Members named by USER options (Discord sends them in `resolved`). */
    users?: FakeMember[];
    /** Roles named by ROLE options. */
    roles?: { id: string; name: string }[];
  },
): Record<string, unknown> {
  const payload = base(2, args);
  const resolved: Record<string, unknown> = {};
  if (args.attachments?.length) {
    resolved.attachments = Object.fromEntries(
      args.attachments.map(({ bytes: _bytes, ...a }) => [a.id, { ...a, proxy_url: a.url, ephemeral: true }]),
    );
  }
  if (args.users?.length) {
    resolved.users = Object.fromEntries(
      args.users.map((u) => [
        u.id,
        { id: u.id, username: u.username, discriminator: '0', global_name: null, avatar: null },
      ]),
    );
  }
  if (args.roles?.length) {
    resolved.roles = Object.fromEntries(
      args.roles.map((r) => [
        r.id,
        {
          id: r.id,
          name: r.name,
          color: 0,
          hoist: false,
          position: 1,
          permissions: '0',
          managed: false,
          mentionable: false,
          flags: 0,
        },
      ]),
    );
  }
  payload.data = {
    id: snowflake(),
    name: args.name,
    type: 1,
    guild_id: args.channel.guild_id,
    options: args.options ?? [],
    ...(Object.keys(resolved).length ? { resolved } : {}),
  };
  return payload;
}

export function autocomplete(
  args: Base & { name: string; options: CommandOption[] },
): Record<string, unknown> {
  const payload = base(4, args);
  payload.data = { id: snowflake(), name: args.name, type: 1, options: args.options };
  return payload;
}

export function buttonPress(
  args: Base & { message: FakeMessage; customId: string },
): Record<string, unknown> {
  const payload = base(3, args);
  payload.message = args.fake.serialize(args.message);
  payload.data = { custom_id: args.customId, component_type: 2 };
  return payload;
}

export function modalSubmit(
  args: Base & { customId: string; fields: Record<string, string>; message?: FakeMessage },
): Record<string, unknown> {
  const payload = base(5, args);
  if (args.message) payload.message = args.fake.serialize(args.message);
  payload.data = {
    custom_id: args.customId,
    components: Object.entries(args.fields).map(([id, value]) => ({
      type: 1,
      components: [{ type: 4, custom_id: id, value }],
    })),
  };
  return payload;
}

/** Every button (custom_id and label) on a message, row by row. */
export function buttonsOf(message: FakeMessage): { customId: string; label: string }[] {
  const rows = message.components as { components?: { custom_id?: string; label?: string }[] }[];
  return rows.flatMap((r) =>
    (r.components ?? []).map((c) => ({ customId: c.custom_id ?? '', label: c.label ?? '' })),
  );
}
