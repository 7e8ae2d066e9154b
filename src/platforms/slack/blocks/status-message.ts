import type { types } from '@slack/bolt';
import { credits } from '../../../../commands/credits.ts';
import { cancellable, type StatusState } from '../../../../commands/status-lifecycle.ts';
import { escapeAndFit, SLACK_LIMITS, truncate } from '../slack-limits.ts';

/**
 * The message a job lives in: the parent message under a `/imagine` (results thread under it), or
 * the status reply a button press posts in the thread. It shows who asked, the cost, the queue
 * position and ETA while waiting, the step while rendering, and how it ended. A Cancel button
 * stays while the job can still be cancelled.
 */
export interface StatusInput {
  /** What was asked: the prompt, or "Upscale 2x of image 1 — <prompt>" for a button. */
  title: string;
  userId: string;
  cost: number;
  /** Credits left after the reservation, when known. */
  balance?: number;
  seed?: number;
  state: StatusState;
  /** The Cancel button's action id; the button shows only while queued or rendering. */
  cancelActionId: string;
}

export interface SlackMessage {
  /** Fallback text for notifications and screen readers. */
  text: string;
  blocks: types.KnownBlock[];
}

export function formatEta(seconds: number | undefined): string | undefined {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return undefined;
  if (seconds < 60) return `~${Math.max(1, Math.round(seconds))} s`;
  const minutes = Math.round(seconds / 60);
  return `~${minutes} min`;
}

const FAILURE_MAX = 1500;

function stateLine(state: StatusState): string {
  switch (state.kind) {
    case 'queued': {
      const eta = formatEta(state.etaSeconds);
      const place = state.position <= 1 ? 'next in the queue' : `position ${state.position} in the queue`;
      return `:hourglass_flowing_sand: Queued, ${place}${eta ? ` · ETA ${eta}` : ''}`;
    }
    case 'rendering': {
      const pct = state.total > 0 ? Math.floor((100 * state.step) / state.total) : 0;
      const eta = formatEta(state.etaSeconds);
      return `:art: Rendering, ${state.unit ?? 'step'} ${state.step}/${state.total} (${pct}%)${eta ? ` · ETA ${eta}` : ''}`;
    }
    case 'done': {
      const took = state.seconds === undefined ? '' : ` in ${state.seconds.toFixed(1)} s`;
      const what =
        state.images === undefined
          ? 'The images are'
          : state.images === 1
            ? 'The image is'
            : `The ${state.images} images are`;
      return `:white_check_mark: Done${took}. ${what} in the thread.`;
    }
    case 'failed':
      // The worker's message may quote the prompt: escaped, and cut short of the block's limit.
      return `:x: Failed: ${escapeAndFit(state.message, FAILURE_MAX)}${state.refunded > 0 ? ` ${credits(state.refunded)} refunded.` : ' Nothing was charged.'}`;
    case 'cancelled':
      return `:no_entry_sign: Cancelled by <@${state.byUserId}>.${state.refunded > 0 ? ` ${credits(state.refunded)} refunded.` : ''}`;
  }
}

export function statusMessage(input: StatusInput): SlackMessage {
  const title = escapeAndFit(input.title, SLACK_LIMITS.sectionText - 10);
  const costLine = [
    `<@${input.userId}>`,
    credits(input.cost),
    input.balance === undefined ? undefined : `${credits(input.balance)} left`,
    input.seed === undefined ? undefined : `seed ${input.seed}`,
  ]
    .filter(Boolean)
    .join(' · ');
  const line = stateLine(input.state);
  const blocks: types.KnownBlock[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*${title}*` } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(costLine, SLACK_LIMITS.contextText) }] },
    { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(line, SLACK_LIMITS.contextText) }] },
  ];
  if (cancellable(input.state)) {
    blocks.push({
      type: 'actions',
      block_id: 'easel_status',
      elements: [
        {
          type: 'button',
          action_id: input.cancelActionId,
          text: { type: 'plain_text', text: 'Cancel' },
          style: 'danger',
        },
      ],
    });
  }
  const plainTitle = truncate(input.title, 150);
  return { text: `${plainTitle} — ${line.replace(/^:[a-z_]+: /, '')}`, blocks };
}
