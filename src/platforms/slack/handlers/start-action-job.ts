import { followUpAdmission, type RequestAction } from '../../../../commands/actions.ts';
import { admitAndReply } from '../../../../commands/admit-and-reply.ts';
import type { SlackOrigin } from '../../../queue/job-data.ts';
import type { GenerationRequest } from '../../../request/types.ts';
import { postQueued } from '../post-status.ts';
import { type SlackDeps, slackMember } from '../slack-deps.ts';
import { type EphemeralTarget, tellMember } from '../tell-member.ts';

/**
 * A button's (or the Inpaint modal's) new job: admitted and charged to the member who pressed it,
 * with its status message posted as a reply in the original thread, where its result will land.
 */
export interface ActionJob {
  /** The button (or the Inpaint modal's button) that asked for it. */
  action: RequestAction;
  request: GenerationRequest;
  teamId: string;
  userId: string;
  userName?: string;
  channelId: string;
  threadTs: string;
  /** Slack's trigger id for this press or submission: one job per id. */
  triggerId: string;
  tell: EphemeralTarget;
}

export async function startActionJob(deps: SlackDeps, job: ActionJob): Promise<void> {
  const member = slackMember(job.teamId, job.userId, job.userName);
  const origin: SlackOrigin = {
    platform: 'slack',
    teamId: job.teamId,
    channelId: job.channelId,
    userId: job.userId,
    parentTs: job.threadTs,
  };
  const reply = await admitAndReply(deps.services, {
    requestId: `slack:${job.triggerId}`,
    member,
    origin,
    request: job.request,
    ...followUpAdmission(job.action),
  });
  if (reply.status === 'refused') {
    await tellMember(job.tell, reply.error.message, deps.logger);
    return;
  }
  await postQueued(deps, reply, {
    member,
    channelId: job.channelId,
    threadTs: job.threadTs,
    tell: job.tell,
  });
}
