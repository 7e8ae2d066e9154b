import { describeJob } from '../../../commands/actions.ts';
import { credits } from '../../../commands/credits.ts';
import type { StatusState } from '../../../commands/status-lifecycle.ts';
import type { GenerationRequest } from '../../request/types.ts';
import { fitText } from '../fit-text.ts';

/**
 * The texts of the message a job lives in (its "status message"): queued with cost, position and
 * ETA, rendering with the step, done, failed with the refund, cancelled (the states of
 * commands/status-lifecycle.ts). Discord markdown; every text stays within the 2,000 characters of
 * a message.
 */
export interface StatusInput {
  request: GenerationRequest;
  userId: string;
  cost: number;
  /** Credits left after the reservation. */
  balance?: number;
  state: StatusState;
}

export const MESSAGE_MAX = 2000;
const TITLE_MAX = 300;

export function formatEta(seconds: number | undefined): string | undefined {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return undefined;
  if (seconds < 60) return `about ${Math.max(1, Math.round(seconds))} s`;
  return `about ${Math.round(seconds / 60)} min`;
}

/** Keeps markdown in a member's prompt from changing how the message looks. */
export function escapeMarkdown(text: string): string {
  return text.replace(/([\\*_~`|>[\]])/g, '\\$1').replace(/@/g, '@\u200b');
}

export function truncate(text: string, max: number): string {
  return fitText(text, max);
}

/** What a job does, in a few words: the prompt, or the button that made it and the prompt. */
export function jobTitle(request: GenerationRequest): string {
  return describeJob(request, `**${escapeMarkdown(truncate(request.prompt || '(no prompt)', TITLE_MAX))}**`);
}

/** `unit`: what the progress counts (a clip's progress is in frames). */
function stateLine(state: StatusState, unit: 'step' | 'frame'): string {
  switch (state.kind) {
    case 'queued': {
      const eta = formatEta(state.etaSeconds);
      const place =
        state.position === 0
          ? 'already on its way'
          : state.position === 1
            ? 'next in line'
            : `#${state.position} in line`;
      return `⏳ Queued, ${place}${eta ? ` · ready in ${eta}` : ''}`;
    }
    case 'rendering': {
      const pct = state.total > 0 ? Math.floor((100 * state.step) / state.total) : 0;
      const eta = formatEta(state.etaSeconds);
      return `🎨 Rendering, ${unit} ${state.step}/${state.total} (${pct}%)${eta ? ` · ready in ${eta}` : ''}`;
    }
    case 'done':
      return state.where === 'thread' ? '✅ Done: the images are in the thread.' : '✅ Done.';
    case 'failed':
      return `❌ Failed: ${truncate(state.message, 500)}${state.refunded > 0 ? ` · ${credits(state.refunded)} refunded` : ''}`;
    case 'cancelled':
      return `🚫 Cancelled by <@${state.byUserId}>${state.refunded > 0 ? ` · ${credits(state.refunded)} refunded` : ''}`;
  }
}

export function statusText(input: StatusInput): string {
  const { request } = input;
  const cost =
    input.state.kind === 'queued'
      ? ` · cost ${credits(input.cost)}${input.balance === undefined ? '' : `, ${input.balance} left`}`
      : '';
  const lines = [
    `${jobTitle(request)} — <@${input.userId}>`,
    stateLine(input.state, request.video !== undefined ? 'frame' : 'step') + cost,
    `-# ${request.model} · ${request.width}x${request.height} · ${request.steps} steps · seed ${request.seed}`,
  ];
  return truncate(lines.join('\n'), MESSAGE_MAX);
}
