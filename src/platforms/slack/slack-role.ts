import type { RoleStarter } from '../../app/role.ts';
import { createServices } from '../../app/services.ts';
import { createSlackApp } from './create-slack-app.ts';

/**
 * The `slack` role: the Bolt app (HTTP or Socket Mode) with its own Services. Results are posted by
 * the `deliver` role (src/platforms/slack/deliver-slack.ts), so a Slack frontend can restart
 * without losing one. Stops taking requests first, then closes its connections.
 */
export const startSlackRole: RoleStarter = async ({ config, logger }) => {
  const services = await createServices(config, logger);
  const slack = createSlackApp({ config, logger, services, keyPrefix: config.QUEUE_PREFIX });
  try {
    await slack.start();
  } catch (error) {
    await services.close();
    throw error;
  }
  return {
    name: 'slack',
    async stop() {
      await slack.stop();
      await services.close();
    },
  };
};
