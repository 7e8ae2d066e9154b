import { followUpAdmission, type RequestAction } from '../../../../commands/actions.ts';
import { admitAndReply } from '../../../../commands/admit-and-reply.ts';
import { answerCommand } from '../../../../commands/command-answer.ts';
import type { SlackOrigin } from '../../../queue/job-data.ts';
import type { GenerationRequest } from '../../../request/types.ts';
import { slackAnswer } from '../command-surface.ts';
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
  await answerCommand(slackAnswer(deps, job.tell), reply, { member, origin });
}

/** A modal's submission (Inpaint, Remix), already acknowledged: where its thread is and who sent it. */
export interface ModalJob {
  action: RequestAction;
  request: GenerationRequest;
  teamId: string;
  userId: string;
  userName?: string;
  thread: { channelId: string; threadTs: string };
  viewId: string;
  /** What the member is told failed to start, e.g. "The inpaint". */
  what: string;
}

/**
 * Starts a modal's job after its `ack()`. One job per modal: a submission Slack delivers twice
 * queues once (the view id is the trigger). A failure to start is told privately; nothing is charged.
 */
export async function startModalJob(deps: SlackDeps, job: ModalJob): Promise<void> {
  const { channelId, threadTs } = job.thread;
  const tell: EphemeralTarget = { client: deps.client, channelId, userId: job.userId, threadTs };
  try {
    await startActionJob(deps, {
      action: job.action,
      request: job.request,
      teamId: job.teamId,
      userId: job.userId,
      userName: job.userName,
      channelId,
      threadTs,
      triggerId: `view:${job.viewId}`,
      tell,
    });
  } catch (error) {
    deps.logger.error({ err: error, what: job.what }, 'modal job failed to start');
    await tellMember(tell, `${job.what} could not be started; nothing was charged.`, deps.logger);
  }
}
