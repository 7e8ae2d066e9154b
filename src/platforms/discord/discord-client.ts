import { Client, GatewayIntentBits, Options, Partials, REST } from 'discord.js';
import { rateLimitOncePolicy } from './rate-limit-once.ts';

/**
 * The gateway client. Interactions arrive whatever the intents, so it asks only for Guilds (channels
 * and threads, to know a thread's parent and a channel's age restriction), and keeps no messages or
 * members in memory: all state a button needs lives in Redis.
 */
export function createDiscordClient(apiBase: string): Client {
  const policy = rateLimitOncePolicy();
  const client = new Client({
    intents: [GatewayIntentBits.Guilds],
    // A thread the cache has not seen (archived, or created while the bot was away) still arrives
    // in the interaction's channel field; the partial makes it usable.
    partials: [Partials.Channel],
    rest: { api: apiBase, rejectOnRateLimit: policy.rejectOnRateLimit },
    allowedMentions: { parse: [] },
    makeCache: Options.cacheWithLimits({
      ...Options.DefaultMakeCacheSettings,
      MessageManager: 0,
      GuildMemberManager: 0,
      UserManager: 0,
      ReactionManager: 0,
      PresenceManager: 0,
    }),
  });
  policy.attach(client.rest);
  return client;
}

/**
 * REST with the bot token, for delivery (which may run in a process without a gateway connection),
 * and webhook calls with interaction tokens. Interaction endpoints are not bound by the bot's global
 * limit of 50 requests a second (discord-api-docs, Rate Limits), so `requestsPerSecond` lets a
 * webhook-only client go faster than discord.js's default global limiter.
 */
export function createDiscordRest(
  apiBase: string,
  token?: string,
  options: { requestsPerSecond?: number } = {},
): REST {
  const policy = rateLimitOncePolicy();
  const rest = new REST({
    api: apiBase,
    rejectOnRateLimit: policy.rejectOnRateLimit,
    globalRequestsPerSecond: options.requestsPerSecond ?? 50,
  });
  policy.attach(rest);
  if (token) rest.setToken(token);
  return rest;
}
