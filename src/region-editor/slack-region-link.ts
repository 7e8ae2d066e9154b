import { type SlackDeps, slackMember } from '../platforms/slack/slack-deps.ts';
import { type EphemeralTarget, tellMember } from '../platforms/slack/tell-member.ts';
import type { SlackOrigin } from '../queue/job-data.ts';
import { regionEditorFor } from './region-editor-for.ts';
import { regionLinkText } from './region-link-text.ts';

/**
 * Vary (Region) on Slack: the press is answered with an ephemeral message holding the editor's link.
 * The result of the submission is posted in the thread the button was pressed in. UserErrors (job
 * gone) propagate to the button handler, which tells the member.
 */
export async function offerRegionLinkOnSlack(
  deps: SlackDeps,
  press: {
    jobId: string;
    index: number;
    teamId: string;
    userId: string;
    userName?: string;
    channelId: string;
    threadTs: string;
    tell: EphemeralTarget;
  },
): Promise<void> {
  const origin: SlackOrigin = {
    platform: 'slack',
    teamId: press.teamId,
    channelId: press.channelId,
    userId: press.userId,
    parentTs: press.threadTs,
  };
  const { url } = await regionEditorFor(deps.services).offerLink({
    jobId: press.jobId,
    index: press.index,
    member: slackMember(press.teamId, press.userId, press.userName),
    origin,
  });
  await tellMember(
    press.tell,
    regionLinkText(press.index, `<${url}|Open the Vary (Region) editor>`),
    deps.logger,
  );
}
