import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { CodedError } from '../errors/coded-error.ts';
import { registerCredits } from './commands/credits.ts';
import { registerDoctor } from './commands/doctor.ts';
import { registerImagine } from './commands/imagine.ts';
import { registerKeys } from './commands/keys.ts';
import { registerModels } from './commands/models.ts';
import { registerRegisterCommands } from './commands/register-commands.ts';
import { registerSettings } from './commands/settings.ts';
import { registerStart } from './commands/start.ts';
import { registerWorker } from './commands/worker.ts';

/**
 * The `easel` command. Each subcommand lives in its own file under src/cli/commands and registers
 * itself on the program here.
 */
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};
const program = new Command('easel')
  .description('Self-hosted image generation for Discord, Slack and a REST API')
  .version(version, '-V, --version', 'print the version')
  .showHelpAfterError();

const registrations: ((program: Command) => void)[] = [
  registerStart,
  registerDoctor,
  registerRegisterCommands,
  registerKeys,
  registerCredits,
  registerModels,
  registerWorker,
  registerImagine,
  registerSettings,
];
for (const register of registrations) register(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Configuration and set-up problems are the operator's to fix: print the message, not a stack.
  if (error instanceof CodedError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
