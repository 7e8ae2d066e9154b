import { type Client, Events } from 'discord.js';
import type { FakeDiscord } from './fake-discord.ts';

/** Logs a client into the fake and waits until it is ready (guilds received). */
export async function loginToFake(client: Client, fake: FakeDiscord): Promise<Client> {
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login(fake.botToken);
  await ready;
  return client;
}
