import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.ts';
import { configSchema } from '../../src/config/schema.ts';
import { CodedError } from '../../src/errors/coded-error.ts';

function configError(env: Record<string, string>): string {
  try {
    parseConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(CodedError);
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be refused');
}

describe('configuration', () => {
  it('gives every variable a working default', () => {
    const config = parseConfig({});
    expect(config.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(config.QUEUE_PREFIX).toBe('{easel}');
    expect(config.API_PORT).toBe(8080);
    expect(config.DISCORD_ENABLED).toBe(false);
    expect(config.EXECUTION_PROVIDERS).toEqual(['cpu']);
    expect(config.ROLES).toEqual(['discord', 'slack', 'api', 'worker', 'deliver']);
  });

  it('parses typed values', () => {
    const config = parseConfig({
      API_PORT: '9000',
      SLACK_SOCKET_MODE: 'yes',
      EXECUTION_PROVIDERS: 'cuda, cpu',
    });
    expect(config.API_PORT).toBe(9000);
    expect(config.SLACK_SOCKET_MODE).toBe(true);
    expect(config.EXECUTION_PROVIDERS).toEqual(['cuda', 'cpu']);
  });

  it('names a missing token for an enabled platform', () => {
    const message = configError({ DISCORD_ENABLED: 'true', DISCORD_APPLICATION_ID: '123' });
    expect(message).toContain('DISCORD_TOKEN: required when DISCORD_ENABLED=true');
    expect(message).not.toContain('DISCORD_APPLICATION_ID');
  });

  it('asks for the signing secret in HTTP mode and the app token in Socket Mode', () => {
    expect(configError({ SLACK_ENABLED: 'true', SLACK_BOT_TOKEN: 'xoxb-1' })).toContain(
      'SLACK_SIGNING_SECRET',
    );
    const socket = configError({
      SLACK_ENABLED: 'true',
      SLACK_BOT_TOKEN: 'xoxb-1',
      SLACK_SOCKET_MODE: 'true',
    });
    expect(socket).toContain('SLACK_APP_TOKEN: required when SLACK_SOCKET_MODE=true');
    expect(socket).not.toContain('SLACK_SIGNING_SECRET');
  });

  it('refuses a Vary (Region) signing key shorter than 32 characters, and takes empty as unset', () => {
    expect(configError({ REGION_EDITOR_SECRET: 'short' })).toContain(
      'REGION_EDITOR_SECRET: must be at least 32 characters',
    );
    expect(parseConfig({ REGION_EDITOR_SECRET: '' }).REGION_EDITOR_SECRET).toBeUndefined();
    const key = 'k'.repeat(32);
    expect(parseConfig({ REGION_EDITOR_SECRET: key }).REGION_EDITOR_SECRET).toBe(key);
  });

  it('refuses a malformed REDIS_URL and says what is expected', () => {
    expect(configError({ REDIS_URL: 'localhost:6379' })).toMatch(
      /REDIS_URL: expected a URL starting with redis:\/\//,
    );
    expect(configError({ REDIS_URL: 'http://127.0.0.1:6379' })).toContain('REDIS_URL');
  });

  it('refuses a non-numeric port with the allowed range', () => {
    expect(configError({ API_PORT: 'eighty' })).toContain(
      'API_PORT: expected a whole number from 0 to 65535, got "eighty"',
    );
    expect(configError({ SLACK_PORT: '70000' })).toContain('SLACK_PORT');
  });

  it('names every bad variable in one error', () => {
    const message = configError({
      API_PORT: 'x',
      REDIS_URL: 'nope',
      NSFW_SCREENING: 'maybe',
      ROLES: 'api,gpu',
      DISCORD_ENABLED: 'true',
    });
    for (const name of [
      'API_PORT',
      'REDIS_URL',
      'NSFW_SCREENING',
      'ROLES',
      'DISCORD_TOKEN',
      'DISCORD_APPLICATION_ID',
    ]) {
      expect(message).toContain(`${name}:`);
    }
  });

  it('never echoes a token in the error message', () => {
    const message = configError({
      DISCORD_ENABLED: 'true',
      DISCORD_TOKEN: 'secret-token-value',
      API_PORT: 'x',
    });
    expect(message).not.toContain('secret-token-value');
  });
});

describe('documentation of the configuration', () => {
  const names = Object.keys(configSchema.shape);

  it('.env.example lists every variable', () => {
    const example = readFileSync('.env.example', 'utf8');
    const listed = [...example.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual([...names].sort());
  });

  it('the README configuration table lists every variable', () => {
    const readme = readFileSync('README.md', 'utf8');
    const missing = names.filter((name) => !readme.includes(`| \`${name}\``));
    expect(missing).toEqual([]);
  });
});
