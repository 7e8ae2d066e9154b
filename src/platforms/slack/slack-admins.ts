import type { webApi } from '@slack/bolt';

/**
 * Who may run `/imagine-admin` in a workspace: its admins and owners (`users.info`), or a user id
 * listed in SLACK_ADMINS. Asked of Slack on every admin command, never cached, so a demoted admin
 * loses the right at once; `commands/quota.ts` checks `isAdmin` again before any change.
 */
export async function isWorkspaceAdmin(
  client: webApi.WebClient,
  teamId: string,
  userId: string,
  configuredAdmins: readonly string[],
): Promise<boolean> {
  if (configuredAdmins.includes(userId)) return true;
  try {
    const info = await client.users.info({ user: userId });
    const user = info.user;
    if (!user) return false;
    // A user of another workspace (Slack Connect) is never this workspace's admin.
    if (user.team_id && user.team_id !== teamId) return false;
    return Boolean(user.is_admin || user.is_owner || user.is_primary_owner);
  } catch {
    return false;
  }
}
