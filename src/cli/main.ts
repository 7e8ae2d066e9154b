import { Command } from 'commander';

/**
 * The `easel` command. Each subcommand lives in its own file under src/cli/commands and registers
 * itself on the program here.
 */
const program = new Command('easel')
  .description('Self-hosted image generation for Discord, Slack and a REST API')
  .showHelpAfterError();

const registrations: ((program: Command) => void)[] = [];
for (const register of registrations) register(program);

await program.parseAsync(process.argv);
