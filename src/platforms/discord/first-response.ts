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

/**
 * One interaction's answers: the first (the status, or a private message) and the private
 * follow-ups after it. The first answer goes straight to the callback unless the interaction was
 * deferred, in which case it replaces "easel is thinking…" through the interaction webhook.
 */
export class InteractionAnswer {
  private deferring: Promise<void> | undefined;
  private answering = false;

  constructor(
    private readonly interaction: RepliableInteraction,
    /** REST for the interaction webhook (edits after a defer skip discord.js's global limiter). */
    private readonly webhooks: REST,
  ) {}

  /** Whether the first answer is given (or on its way): what comes next is a follow-up. */
  get answered(): boolean {
    return this.answering || this.interaction.replied;
  }

  /** Shows "easel is thinking…" now, unless the first answer is already on its way. */
  defer(): Promise<void> {
    if (this.deferring === undefined && !this.answered) {
      this.deferring = this.interaction.deferReply().then(() => undefined);
      // Awaited by the first answer, which raises its failure; nothing else may leave it unhandled.
      this.deferring.catch(() => {});
    }
    return this.deferring ?? Promise.resolve();
  }

  /** The interaction's first answer; returns the public message's id (none for a private one). */
  async first(answer: Answer): Promise<string | undefined> {
    if (this.answered) throw new Error('the interaction already has its first answer');
    this.answering = true;
    if (this.deferring !== undefined) {
      await this.deferring;
      return this.replaceDefer(answer);
    }
    const { interaction } = this;
    if (answer.kind === 'ephemeral') {
      await interaction.reply({
        content: answer.content,
        components: answer.components ?? [],
        flags: MessageFlags.Ephemeral,
      });
      return undefined;
    }
    const response = await interaction.reply({
      content: answer.content,
      components: answer.components ?? [],
      allowedMentions: { users: answer.mentionUsers ?? [] },
      withResponse: true,
    });
    return response.resource?.message?.id;
  }

  /** A private message after the first answer. */
  async followUp(answer: PrivateAnswer): Promise<void> {
    await this.webhooks.post(Routes.webhook(this.interaction.applicationId, this.interaction.token), {
      auth: false,
      body: {
        content: answer.content,
        components: answer.components ?? [],
        flags: MessageFlags.Ephemeral,
        allowed_mentions: { parse: [] },
      },
      query: new URLSearchParams({ wait: 'true' }),
    });
  }

  private async replaceDefer(answer: Answer): Promise<string | undefined> {
    const { interaction, webhooks } = this;
    const original = Routes.webhookMessage(interaction.applicationId, interaction.token, '@original');
    if (answer.kind === 'ephemeral') {
      // A public "thinking" message cannot turn ephemeral: replace it with a private follow-up.
      await webhooks.delete(original, { auth: false }).catch(() => {});
      await this.followUp(answer);
      return undefined;
    }
    const message = (await webhooks.patch(original, {
      auth: false,
      body: {
        content: answer.content,
        components: answer.components ?? [],
        allowed_mentions: { parse: [], users: answer.mentionUsers ?? [] },
      },
    })) as APIMessage;
    return message.id;
  }
}

/** An answer only the member sees. */
export type PrivateAnswer = Extract<Answer, { kind: 'ephemeral' }>;

export interface AnswerOptions {
  /** How long the work may take before the bot defers; 0 defers before the work starts. */
  budgetMs: number;
  /** Interactions this bot is answering right now (this one included). */
  inFlight: InFlight;
  webhooks: REST;
}

/**
 * Runs `work`, which gives the interaction its first answer when it has one: straight away when
 * that comes within the budget, else after a defer sent at the budget's end (or before the work
 * starts, when the budget is 0 or the bot is busy).
 */
export async function answerInteraction<T>(
  interaction: RepliableInteraction,
  work: (answer: InteractionAnswer) => Promise<T>,
  options: AnswerOptions,
): Promise<T> {
  const answer = new InteractionAnswer(interaction, options.webhooks);
  if (options.budgetMs <= 0 || options.inFlight.count > BUSY_IN_FLIGHT) {
    await answer.defer();
    return work(answer);
  }
  // Whatever the work turns out to be, the member sees "easel is thinking…" in time.
  const timer = setTimeout(() => void answer.defer(), options.budgetMs);
  try {
    return await work(answer);
  } finally {
    clearTimeout(timer);
  }
}
