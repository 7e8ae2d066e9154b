import type { Command } from 'commander';
import { handleSettings, parseSettingsText, settingsLines } from '../../../commands/settings.ts';
import { CodedError } from '../../errors/coded-error.ts';
import { cliMember } from '../cli-member.ts';
import { withServices } from '../with-services.ts';

/**
 * `easel settings [show | reset | set --ar 16:9 --n 4 ...]`: the operator's /settings, which
 * `easel imagine` applies like /imagine does on Discord and Slack. The operator owns the machine's
 * `cli` scope, so `easel settings server --n 4` sets its defaults too.
 */
export function registerSettings(program: Command): void {
  program
    .command('settings')
    .description('show or change the defaults easel imagine uses (the same as /settings in chat)')
    .argument('[words...]', 'show | reset | set --ar 16:9 --n 4 --steps 30 | server --n 4 | server reset')
    // The flags are /imagine's (--ar, --n, --no ...), read by commands/settings.ts, not by commander.
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (words: string[]) => {
      const lines = await withServices(async (services) => {
        const reply = await handleSettings(services, {
          member: cliMember(),
          isAdmin: true,
          operation: parseSettingsText(words.join(' ')),
        });
        if (reply.status === 'refused') throw new CodedError('config-invalid', reply.error.message);
        return settingsLines(reply, 'machine');
      });
      for (const line of lines) console.log(line);
    });
}
