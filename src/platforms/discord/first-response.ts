import {
  type APIActionRowComponent,
  type APIComponentInMessageActionRow,
  type APIMessage,
  MessageFlags,
  type REST,
  type RepliableInteraction,
  Routes,
} from 'discord.js';

/**
 * The first answer to an interaction must reach Discord within 3 seconds. Admission is usually
 * much faster than that, and then the best first answer is the status itself (one callback, no
 * edit). When the work is slow (an attachment to download, Redis far away) the bot defers at the
 * budget's end, and when it is busy (a burst of commands) it defers before starting the work, so
 * the defer is not stuck behind other members' admissions. After a defer the reply is edited
 * straight through the interaction webhook, which Discord does not count against the bot's
 * global limit; through discord.js's client it would queue behind its 50-a-second limiter.
 */
export type Answer =
  | {
      kind: 'public';
      content: string;
      components?: APIActionRowComponent<APIComponentInMessageActionRow>[];
      /** Who may be pinged by the message. */
      mentionUsers?: string[];
    }
  | {
      kind: 'ephemeral';
      content: string;
      /** Buttons on a private answer (a batch's confirmation). */
      components?: APIActionRowComponent<APIComponentInMessageActionRow>[];
    };

export interface Answered {
  /** The public message's id (absent for ephemeral answers). */
  messageId?: string;
  deferred: boolean;
}

/** How long admission may take before the bot defers instead (when the bot is not busy). */
export const DEFAULT_ANSWER_BUDGET_MS = 1000;

/**
 * Above this many interactions in hand, the bot defers before doing any work: in a burst, the
 * admissions' own traffic would otherwise hold the defers back (bench/discord.ts measures both).
 */
export const BUSY_IN_FLIGHT = 4;

export class InFlight {
  count = 0;
  async around<T>(run: () => Promise<T>): Promise<T> {
    this.count += 1;
    try {
      return await run();
    } finally {
      this.count -= 1;
    }
  }
}

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

export interface AnswerOptions {
  /** How long the work may take before the bot defers; 0 defers before the work starts. */
  budgetMs: number;
  /** Interactions this bot is answering right now (this one included). */
  inFlight: InFlight;
  /** REST for the interaction webhook (edits after a defer skip discord.js's global limiter). */
  webhooks: REST;
}

/**
 * Answers an interaction with what `work` produces: at once when it is done within the budget,
 * else after a defer. Returns the work's value and the public message's id.
 */
export async function answerInteraction<T extends { answer: Answer }>(
  interaction: RepliableInteraction,
  work: () => Promise<T>,
  options: AnswerOptions,
): Promise<Answered & { value: T }> {
  let running: Promise<T> | undefined;
  if (options.budgetMs > 0 && options.inFlight.count <= BUSY_IN_FLIGHT) {
    running = work();
    const early = await within(running, options.budgetMs);
    if (early.done) {
      const { answer } = early.value;
      if (answer.kind === 'ephemeral') {
        await interaction.reply({
          content: answer.content,
          components: answer.components ?? [],
          flags: MessageFlags.Ephemeral,
        });
        return { deferred: false, value: early.value };
      }
      const response = await interaction.reply({
        content: answer.content,
        components: answer.components ?? [],
        allowedMentions: { users: answer.mentionUsers ?? [] },
        withResponse: true,
      });
      return { deferred: false, messageId: response.resource?.message?.id, value: early.value };
    }
    // Whatever the work turns out to be, the member sees "easel is thinking…" in time.
    running.catch(() => {});
  }
  await interaction.deferReply();
  const value = await (running ?? work());
  const { answer } = value;
  const original = Routes.webhookMessage(interaction.applicationId, interaction.token, '@original');
  if (answer.kind === 'ephemeral') {
    // A public "thinking" message cannot turn ephemeral: replace it with a private follow-up.
    await options.webhooks.delete(original, { auth: false }).catch(() => {});
    await options.webhooks.post(Routes.webhook(interaction.applicationId, interaction.token), {
      auth: false,
      body: {
        content: answer.content,
        components: answer.components ?? [],
        flags: MessageFlags.Ephemeral,
        allowed_mentions: { parse: [] },
      },
      query: new URLSearchParams({ wait: 'true' }),
    });
    return { deferred: true, value };
  }
  const message = (await options.webhooks.patch(original, {
    auth: false,
    body: {
      content: answer.content,
      components: answer.components ?? [],
      allowed_mentions: { parse: [], users: answer.mentionUsers ?? [] },
    },
  })) as APIMessage;
  return { deferred: true, messageId: message.id, value };
}
