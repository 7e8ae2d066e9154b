import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BOT_SCOPES, SLASH_COMMANDS } from '../../src/platforms/slack/slash-commands.ts';

/** The manifest an operator pastes into api.slack.com must create the app easel's code serves. */
interface Manifest {
  display_information: { name: string };
  features: {
    bot_user: { display_name: string };
    slash_commands: { command: string; url: string; description: string }[];
  };
  oauth_config: { scopes: { bot: string[] } };
  settings: { interactivity: { is_enabled: boolean; request_url: string }; socket_mode_enabled: boolean };
}

const manifest = parse(
  readFileSync(new URL('../../slack-app-manifest.yml', import.meta.url), 'utf8'),
) as Manifest;

describe('slack-app-manifest.yml', () => {
  it('declares exactly the slash commands the app answers', () => {
    expect(manifest.features.slash_commands.map((c) => c.command).sort()).toEqual(
      Object.values(SLASH_COMMANDS).sort(),
    );
    for (const command of manifest.features.slash_commands) {
      expect(command.description.length).toBeLessThanOrEqual(100);
    }
  });

  it('sends commands and interactivity to the one path Bolt listens on', () => {
    const urls = new Set([
      ...manifest.features.slash_commands.map((c) => c.url),
      manifest.settings.interactivity.request_url,
    ]);
    expect(urls.size).toBe(1);
    expect([...urls][0]).toMatch(/^https:\/\/.+\/slack\/events$/);
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
  });

  it('asks for the bot scopes the code uses, and no others', () => {
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual([...BOT_SCOPES].sort());
    expect(typeof manifest.settings.socket_mode_enabled).toBe('boolean');
  });
});
