import { Command } from 'commander';
import { CodedError } from '../errors/coded-error.ts';
import { registerDoctor } from './commands/doctor.ts';
import { registerImagine } from './commands/imagine.ts';
import { registerKeys } from './commands/keys.ts';
import { registerModels } from './commands/models.ts';
import { registerRegisterCommands } from './commands/register-commands.ts';
import { registerStart } from './commands/start.ts';
import { registerWorker } from './commands/worker.ts';

/**
 * The `easel` command. Each subcommand lives in its own file under src/cli/commands and registers
 * itself on the program here.
 */
const program = new Command('easel')
  .description('Self-hosted image generation for Discord, Slack and a REST API')
  .showHelpAfterError();

const registrations: ((program: Command) => void)[] = [
  registerStart,
  registerDoctor,
  registerRegisterCommands,
  registerKeys,
  registerModels,
  registerWorker,
  registerImagine,
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
