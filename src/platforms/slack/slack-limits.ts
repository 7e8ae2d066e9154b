import { fitText } from '../fit-text.ts';

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Slack's documented limits (../shared/PLATFORM-LIMITS.md, Slack) that the renderers respect. A
 * message Slack rejects for one over-long field is a result the member never sees, so every
 * member-supplied string is cut to fit before it goes into a block.
 */
export const SLACK_LIMITS = {
  buttonText: 75,
  actionId: 255,
  buttonValue: 2000,
  actionsElements: 25,
  messageBlocks: 50,
  modalBlocks: 100,
  modalTitle: 24,
  privateMetadata: 3000,
  sectionText: 3000,
  contextText: 2000,
  plainTextInput: 3000,
  /** A `response_action: errors` message beside a modal's field (easel's cut; Slack shows short ones). */
  fieldError: 150,
  /** Seconds within which commands, actions and view submissions must be acknowledged. */
  ackSeconds: 3,
  /** Progress edits of one message: at most one every this many ms. */
  progressEditMs: 3000,
} as const;

/** Cuts `text` to at most `max` characters, marking the cut with an ellipsis. */
export function truncate(text: string, max: number): string {
  return fitText(text, max);
}

/**
 * Escapes text for mrkdwn: Slack reads `&`, `<` and `>` as control characters (links, mentions),
 * so a prompt like "<!channel>" must not ping the channel.
 */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Escapes member text for mrkdwn and fits it in `max` characters: the cut falls between the
 * text's graphemes, never inside the `&amp;` an escape made (Slack would show a broken entity).
 */
export function escapeAndFit(text: string, max: number): string {
  const escaped = escapeMrkdwn(text);
  if (escaped.length <= max) return escaped;
  let out = '';
  for (const { segment } of segmenter.segment(text)) {
    const next = escapeMrkdwn(segment);
    if (out.length + next.length + 1 > max) break;
    out += next;
  }
  return `${out}…`;
}
