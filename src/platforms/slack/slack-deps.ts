import type { webApi } from '@slack/bolt';
import type { Services } from '../../app/services.ts';
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../../log/logger.ts';
import type { MemberRef, ScopeRef } from '../../members/member-ref.ts';
import type { NsfwChannels } from './nsfw-channels.ts';
import type { StatusStore } from './status-store.ts';

/** What every Slack handler works with. */
export interface SlackDeps {
  config: Config;
  logger: Logger;
  services: Services;
  client: webApi.WebClient;
  statusStore: StatusStore;
  nsfwChannels: NsfwChannels;
}

/** A Slack workspace is a credit scope. */
export function slackScope(teamId: string): ScopeRef {
  return { kind: 'slack', id: teamId };
}

export function slackMember(teamId: string, userId: string, displayName?: string): MemberRef {
  const member: MemberRef = { scope: slackScope(teamId), userId };
  if (displayName) member.displayName = displayName;
  return member;
}
