import {
  type DeliveryWords,
  type FailureView,
  failureSentence,
  noteSentence,
  type ResultNote,
} from '../../../commands/delivery-lifecycle.ts';
import { escapeMarkdown } from './status-text.ts';

/**
 * The notes of a Discord result and the private notice of a failure, in Discord markdown
 * (commands/delivery-lifecycle.ts words them). A blocked image is posted as a blank one of its size,
 * so the others keep their numbers.
 */
const DISCORD_WORDS: DeliveryWords = {
  literal: escapeMarkdown,
  scope: 'server',
  nsfwChannels: 'age-restricted channels',
  blockedAs: (count) => (count === 1 ? 'replaced by a blank image' : 'replaced by blank images'),
};

const MARK: Record<ResultNote['kind'], string> = {
  'truncated-words': '✂️',
  warning: '⚠️',
  blocked: '🔞',
  spoilered: '🔞',
};

export function discordNote(note: ResultNote): string {
  return `${MARK[note.kind]} ${noteSentence(note, DISCORD_WORDS)}`;
}

export function discordFailureNotice(view: FailureView): string {
  return `❌ ${failureSentence(view, DISCORD_WORDS)}`;
}
