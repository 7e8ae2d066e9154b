import { type BaseInteraction, type Channel, PermissionFlagsBits } from 'discord.js';
import type { MemberRef, ScopeRef } from '../../members/member-ref.ts';
import type { DiscordOrigin } from '../../queue/job-data.ts';

/**
 * Who pressed or typed, in which server and channel: the platform-neutral refs admission needs,
 * and the `DiscordOrigin` delivery uses to answer (interaction token, channel, thread, NSFW flag,
 * attachment limit).
 */

/** A Discord server is a credit scope. */
export function discordScope(guildId: string): ScopeRef {
  return { kind: 'discord', id: guildId };
}

export function memberOf(interaction: BaseInteraction): MemberRef {
  const member = interaction.member;
  // A cached GuildMember has a role manager; the raw payload has an id array.
  const roles = member ? (Array.isArray(member.roles) ? member.roles : [...member.roles.cache.keys()]) : [];
  const displayName =
    (member && 'displayName' in member ? member.displayName : undefined) ??
    interaction.user.globalName ??
    interaction.user.username;
  return {
    scope: discordScope(interaction.guildId ?? 'dm'),
    userId: interaction.user.id,
    roles: roles.filter((id) => id !== interaction.guildId),
    displayName,
  };
}

/** Manage Guild, as Discord computed it for this member in this channel (overrides included). */
export function isServerAdmin(interaction: BaseInteraction): boolean {
  return interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild) ?? false;
}

const PARENT_LOOKUP_MS = 1000;

/**
 * Whether images may be shown as age-restricted content here: the channel's `nsfw` flag, or for a
 * thread its parent's (threads have none of their own). Unknown counts as not age-restricted, the
 * safe side.
 */
export async function channelIsNsfw(interaction: BaseInteraction): Promise<boolean> {
  const channel = interaction.channel;
  if (!channel) return false;
  if (!channel.isThread()) return 'nsfw' in channel && channel.nsfw === true;
  const parentId = channel.parentId;
  if (!parentId) return false;
  const cached: Channel | undefined = interaction.client.channels.cache.get(parentId);
  const parent =
    cached ??
    (await Promise.race([
      interaction.client.channels.fetch(parentId).catch(() => null),
      new Promise<null>((resolve) => setTimeout(() => resolve(null), PARENT_LOOKUP_MS).unref()),
    ]));
  return parent !== null && 'nsfw' in parent && parent.nsfw === true;
}

export function originOf(interaction: BaseInteraction, channelNsfw: boolean): DiscordOrigin {
  return {
    platform: 'discord',
    applicationId: interaction.applicationId,
    interactionId: interaction.id,
    interactionToken: interaction.token,
    interactionCreatedAt: interaction.createdTimestamp,
    guildId: interaction.guildId ?? '',
    channelId: interaction.channelId ?? '',
    inThread: interaction.channel?.isThread() ?? false,
    channelNsfw,
    ...(interaction.attachmentSizeLimit ? { attachmentSizeLimit: interaction.attachmentSizeLimit } : {}),
    locale: interaction.locale,
  };
}
