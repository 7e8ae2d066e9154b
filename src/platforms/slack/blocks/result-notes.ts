import {
  type DeliveryWords,
  type FailureView,
  failureSentence,
  noteSentence,
  type ResultNote,
} from '../../../../commands/delivery-lifecycle.ts';
import { escapeMrkdwn } from '../slack-limits.ts';

/**
 * The notes under a Slack result and the private notice of a failure, in mrkdwn (commands/
 * delivery-lifecycle.ts words them). Slack has no spoilers and no NSFW flag on channels: a
 * blocked image is left out, and the channels a workspace's admins marked stand for age-restricted
 * ones.
 */
const SLACK_WORDS: DeliveryWords = {
  literal: escapeMrkdwn,
  scope: 'workspace',
  nsfwChannels: 'the channels its admins marked',
  blockedAs: () => 'left out',
};

const MARK: Record<ResultNote['kind'], string> = {
  'truncated-words': ':scissors:',
  warning: ':warning:',
  blocked: ':no_entry:',
  spoilered: ':see_no_evil:',
};

export function slackNote(note: ResultNote): string {
  return `${MARK[note.kind]} ${noteSentence(note, SLACK_WORDS)}`;
}

export function slackFailureNotice(view: FailureView): string {
  return failureSentence(view, SLACK_WORDS);
}
