import {
  type APIActionRowComponent,
  type APIComponentInMessageActionRow,
  MessageFlags,
  type RepliableInteraction,
} from 'discord.js';

/**
 * The first answer to an interaction must reach Discord within 3 seconds. Admission is usually
 * much faster than that, and then the best first answer is the status itself (one callback, no
 * edit: edits go through discord.js's 50-a-second limiter, which a burst turns into a queue).
 * When the work is slow (an attachment to download, Redis far away), the bot defers at the
 * budget's end and edits the reply when the work is done.
 */
export type Answer =
  | {
      kind: 'public';
      content: string;
      components?: APIActionRowComponent<APIComponentInMessageActionRow>[];
      /** Who may be pinged by the message. */
      mentionUsers?: string[];
    }
  | { kind: 'ephemeral'; content: string };

export interface Answered {
  /** The public message's id (absent for ephemeral answers). */
  messageId?: string;
  deferred: boolean;
}

/** Default budget: a burst of 500 interactions still gets every first callback in well under 3 s. */
export const DEFAULT_ANSWER_BUDGET_MS = 250;

type Settled<T> = { done: true; value: T } | { done: false };

async function within<T>(work: Promise<T>, ms: number): Promise<Settled<T>> {
  if (ms <= 0) return { done: false };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Settled<T>>((resolve) => {
    timer = setTimeout(() => resolve({ done: false }), ms);
  });
  try {
    return await Promise.race([work.then((value) => ({ done: true as const, value })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function answerInteraction(
  interaction: RepliableInteraction,
  work: Promise<Answer>,
  budgetMs: number,
): Promise<Answered> {
  const early = await within(work, budgetMs);
  if (early.done) {
    const answer = early.value;
    if (answer.kind === 'ephemeral') {
      await interaction.reply({ content: answer.content, flags: MessageFlags.Ephemeral });
      return { deferred: false };
    }
    const response = await interaction.reply({
      content: answer.content,
      components: answer.components ?? [],
      allowedMentions: { users: answer.mentionUsers ?? [] },
      withResponse: true,
    });
    return { deferred: false, messageId: response.resource?.message?.id };
  }
  // Whatever the work turns out to be, the member sees "easel is thinking…" in time.
  work.catch(() => {});
  await interaction.deferReply();
  const answer = await work;
  if (answer.kind === 'ephemeral') {
    // A public "thinking" message cannot turn ephemeral: replace it with a private follow-up.
    await interaction.deleteReply().catch(() => {});
    await interaction.followUp({ content: answer.content, flags: MessageFlags.Ephemeral });
    return { deferred: true };
  }
  const message = await interaction.editReply({
    content: answer.content,
    components: answer.components ?? [],
    allowedMentions: { users: answer.mentionUsers ?? [] },
  });
  return { deferred: true, messageId: message.id };
}
