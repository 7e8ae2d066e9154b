import type { Command } from 'commander';
import { config as loadDotenv } from 'dotenv';
import { runDoctorChecks } from '../../doctor/checks.ts';

const MARK = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check configuration, Redis, models, execution providers and platform tokens')
    .action(async () => {
      loadDotenv({ path: '.env', quiet: true });
      const results = await runDoctorChecks(process.env);
      for (const r of results) console.log(`${MARK[r.status]}  ${r.name}: ${r.detail}`);
      const failed = results.filter((r) => r.status === 'fail').length;
      console.log(failed === 0 ? '\nAll checks passed.' : `\n${failed} check(s) failed.`);
      process.exitCode = failed === 0 ? 0 : 1;
    });
}
