import { randomBytes } from 'node:crypto';
import type { FakeSlack } from './fake-slack.ts';

/**
 * Request payloads in Slack's wire format (as documented and as Slack sends them), for the HTTP
 * receiver (form fields; interactive payloads as `payload=<json>`) and for Socket Mode envelopes.
 * Trigger ids and response URLs come from the fake, so it can enforce their lifetimes.
 */

export interface Who {
  userId: string;
  teamId?: string;
  channelId?: string;
}

const DEFAULT_CHANNEL = 'C0000GENERAL';

export function slashCommand(
  fake: FakeSlack,
  who: Who,
  command: string,
  text: string,
): Record<string, string> {
  const teamId = who.teamId ?? fake.teamId;
  return {
    token: 'deprecated-verification-token',
    team_id: teamId,
    team_domain: 'fake-team',
    channel_id: who.channelId ?? DEFAULT_CHANNEL,
    channel_name: 'general',
    user_id: who.userId,
    user_name: who.userId.toLowerCase(),
    command,
    text,
    api_app_id: fake.appId,
    is_enterprise_install: 'false',
    response_url: fake.issueResponseUrl(),
    trigger_id: fake.issueTriggerId(),
  };
}

export interface ButtonPress extends Who {
  /** The message carrying the button (its ts) and, for a reply, its thread. */
  messageTs: string;
  threadTs?: string;
  actionId: string;
  value?: string;
  blockId?: string;
  text?: string;
}

export function blockActions(fake: FakeSlack, press: ButtonPress): Record<string, unknown> {
  const teamId = press.teamId ?? fake.teamId;
  const channelId = press.channelId ?? DEFAULT_CHANNEL;
  return {
    type: 'block_actions',
    user: {
      id: press.userId,
      username: press.userId.toLowerCase(),
      name: press.userId.toLowerCase(),
      team_id: teamId,
    },
    api_app_id: fake.appId,
    token: 'deprecated-verification-token',
    container: {
      type: 'message',
      message_ts: press.messageTs,
      channel_id: channelId,
      is_ephemeral: false,
      thread_ts: press.threadTs,
    },
    trigger_id: fake.issueTriggerId(),
    team: { id: teamId, domain: 'fake-team' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: channelId, name: 'general' },
    message: {
      type: 'message',
      ts: press.messageTs,
      thread_ts: press.threadTs,
      bot_id: 'B0000EASEL',
      text: '',
    },
    state: { values: {} },
    response_url: fake.issueResponseUrl(),
    actions: [
      {
        action_id: press.actionId,
        block_id: press.blockId ?? randomBytes(3).toString('hex'),
        text: { type: 'plain_text', text: press.text ?? press.actionId, emoji: true },
        value: press.value,
        type: 'button',
        action_ts: `${(Date.now() / 1000).toFixed(6)}`,
      },
    ],
  };
}

export interface ModalSubmission extends Who {
  callbackId: string;
  privateMetadata: string;
  /** block_id -> action_id -> the element's state, as Slack reports it. */
  values: Record<string, Record<string, Record<string, unknown>>>;
}

export function viewSubmission(fake: FakeSlack, submission: ModalSubmission): Record<string, unknown> {
  const teamId = submission.teamId ?? fake.teamId;
  return {
    type: 'view_submission',
    team: { id: teamId, domain: 'fake-team' },
    user: {
      id: submission.userId,
      username: submission.userId.toLowerCase(),
      name: submission.userId.toLowerCase(),
      team_id: teamId,
    },
    api_app_id: fake.appId,
    token: 'deprecated-verification-token',
    trigger_id: fake.issueTriggerId(),
    view: {
      id: `V${randomBytes(5).toString('hex').toUpperCase()}`,
      team_id: teamId,
      type: 'modal',
      callback_id: submission.callbackId,
      private_metadata: submission.privateMetadata,
      state: { values: submission.values },
      hash: randomBytes(6).toString('hex'),
      title: { type: 'plain_text', text: 'Inpaint' },
      blocks: [],
      app_id: fake.appId,
      bot_id: 'B0000EASEL',
    },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
}

/** A plain text input's state in `view.state.values`. */
export function textValue(value: string): Record<string, unknown> {
  return { type: 'plain_text_input', value };
}

/** A static select's state in `view.state.values`. */
export function selectValue(value: string | null): Record<string, unknown> {
  return {
    type: 'static_select',
    selected_option: value === null ? null : { text: { type: 'plain_text', text: value }, value },
  };
}
