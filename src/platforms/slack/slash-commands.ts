/** The slash commands easel answers; slack-app-manifest.yml declares exactly these (a test checks). */
export const SLASH_COMMANDS = {
  imagine: '/imagine',
  credits: '/imagine-credits',
  admin: '/imagine-admin',
  settings: '/imagine-settings',
} as const;

/** The bot scopes the app needs (the manifest's oauth_config). */
export const BOT_SCOPES = ['commands', 'chat:write', 'files:write', 'users:read'] as const;
