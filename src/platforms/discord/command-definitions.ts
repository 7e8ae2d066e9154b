import {
  InteractionContextType,
  PermissionFlagsBits,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
  SlashCommandBuilder,
  type SlashCommandSubcommandBuilder,
} from 'discord.js';
import { SETTING_OPTIONS, type SettingOption } from '../../../commands/setting-options.ts';
import { NSFW_POLICIES } from '../../quotas/quota-policy.ts';
import {
  ASPECT_RATIOS,
  COUNT_MAX,
  COUNT_MIN,
  GUIDANCE_MAX,
  GUIDANCE_MIN,
  PROMPT_MAX_CHARS,
  REPEAT_MAX,
  SEED_MAX,
  STRENGTH_MAX,
  STRENGTH_MIN,
} from '../../request/limits.ts';
import { SAMPLERS, type SamplerName } from '../../request/types.ts';

/**
 * The slash commands easel registers (one bulk overwrite: `easel register-commands`). Option names
 * are what members type and what error messages quote, so the request grammar's labels use them.
 */

/**
 * Names shown in the sampler list; the values are easel's sampler names. Every sampler is a choice:
 * there are fewer than Discord's 25 choices an option may have (the hosted and diffusers spellings
 * of the same samplers still work in the prompt's --sampler flag).
 */
const SAMPLER_LABELS: Record<SamplerName, string> = {
  euler: 'Euler',
  euler_a: 'Euler a',
  ddim: 'DDIM',
  dpmpp_2m: 'DPM++ 2M',
  dpmpp_2m_karras: 'DPM++ 2M Karras',
  lcm: 'LCM',
  pndm: 'PNDM',
  heun: 'Heun',
  lms: 'LMS',
  lms_karras: 'LMS Karras',
  dpm_single: 'DPM Single',
  dpm_single_karras: 'DPM Single Karras',
  dpm2: 'DPM2',
  dpm2_karras: 'DPM2 Karras',
  dpm2_a: 'DPM2 a',
  dpm2_a_karras: 'DPM2 a Karras',
  unipc: 'UniPC',
  deis: 'DEIS',
  dpmpp_2m_sde: 'DPM++ 2M SDE',
  dpmpp_2m_sde_karras: 'DPM++ 2M SDE Karras',
  flow_euler: 'Flow Euler (SD3)',
};

const STEPS_OPTION_MAX = 150;

function imagineCommand(): SlashCommandBuilder {
  const command = new SlashCommandBuilder()
    .setName('imagine')
    .setDescription('Generate images from a prompt (flags such as --ar 16:9 --seed 42 work in the prompt)')
    .setContexts(InteractionContextType.Guild);
  command.addStringOption((o) =>
    o
      .setName('prompt')
      .setDescription(
        'What to draw; Midjourney-style flags (--ar, --seed, --no, --steps, --cfg ...) work too',
      )
      .setRequired(true)
      .setMaxLength(PROMPT_MAX_CHARS),
  );
  command.addStringOption((o) =>
    o.setName('negative').setDescription('What to keep out of the image').setMaxLength(PROMPT_MAX_CHARS),
  );
  command.addStringOption((o) =>
    o
      .setName('aspect')
      .setDescription('Aspect ratio (same area as the model’s native size)')
      .addChoices(...ASPECT_RATIOS.map((r) => ({ name: r, value: r }))),
  );
  command.addIntegerOption((o) =>
    o
      .setName('seed')
      .setDescription('Seed for reproducible images (0 = random)')
      .setMinValue(0)
      .setMaxValue(SEED_MAX),
  );
  command.addIntegerOption((o) =>
    o.setName('steps').setDescription('Denoising steps').setMinValue(1).setMaxValue(STEPS_OPTION_MAX),
  );
  command.addNumberOption((o) =>
    o
      .setName('guidance')
      .setDescription('How closely to follow the prompt (CFG scale)')
      .setMinValue(GUIDANCE_MIN)
      .setMaxValue(GUIDANCE_MAX),
  );
  command.addStringOption((o) =>
    o
      .setName('sampler')
      .setDescription('Sampler (scheduler)')
      .addChoices(...SAMPLERS.map((s) => ({ name: SAMPLER_LABELS[s], value: s }))),
  );
  command.addStringOption((o) =>
    o.setName('model').setDescription('Model to render with').setAutocomplete(true).setMaxLength(100),
  );
  command.addIntegerOption((o) =>
    o.setName('count').setDescription('How many images (1-4)').setMinValue(COUNT_MIN).setMaxValue(COUNT_MAX),
  );
  command.addAttachmentOption((o) =>
    o.setName('image').setDescription('Start from this image (img2img): PNG, JPEG or WebP'),
  );
  command.addNumberOption((o) =>
    o
      .setName('strength')
      .setDescription('With an image: how much to change it (0 = keep, 1 = ignore it)')
      .setMinValue(STRENGTH_MIN)
      .setMaxValue(STRENGTH_MAX),
  );
  command.addIntegerOption((o) =>
    o
      .setName('repeat')
      .setDescription(`Run the prompt this many times, each with its own seed (1-${REPEAT_MAX})`)
      .setMinValue(1)
      .setMaxValue(REPEAT_MAX),
  );
  return command;
}

type OptionHolder = Pick<
  SlashCommandSubcommandBuilder,
  'addStringOption' | 'addIntegerOption' | 'addNumberOption' | 'addBooleanOption'
>;

/** One `/settings` option from its declaration in commands/settings.ts. */
function addSettingOption(holder: OptionHolder, option: SettingOption): void {
  const base = <T extends { setName(n: string): T; setDescription(d: string): T }>(o: T) =>
    o.setName(option.name).setDescription(option.description);
  switch (option.kind) {
    case 'boolean':
      holder.addBooleanOption((o) => base(o));
      return;
    case 'integer':
      holder.addIntegerOption((o) => {
        base(o);
        if (option.min !== undefined) o.setMinValue(option.min);
        if (option.max !== undefined) o.setMaxValue(option.max);
        return o;
      });
      return;
    case 'number':
      holder.addNumberOption((o) => {
        base(o);
        if (option.min !== undefined) o.setMinValue(option.min);
        if (option.max !== undefined) o.setMaxValue(option.max);
        return o;
      });
      return;
    case 'string':
      holder.addStringOption((o) => {
        base(o);
        if (option.key === 'sampler') {
          o.addChoices(...SAMPLERS.map((s) => ({ name: SAMPLER_LABELS[s], value: s })));
        } else if (option.choices) {
          o.addChoices(...option.choices.map((c) => ({ name: c, value: c })));
        }
        if (option.key === 'model') o.setAutocomplete(true);
        if (option.maxLength !== undefined) o.setMaxLength(option.maxLength);
        return o;
      });
      return;
  }
}

/**
 * `/settings`: a member's defaults for /imagine, and (Manage Server, checked in code: the command
 * itself is for everyone) the server's defaults, from the options commands/settings.ts declares.
 */
function settingsCommand() {
  const command = new SlashCommandBuilder()
    .setName('settings')
    .setDescription('Your /imagine defaults: model, aspect, image count, sampler, steps, guidance, Remix')
    .setContexts(InteractionContextType.Guild);
  command.addSubcommand((s) => s.setName('show').setDescription('Show your settings and the server’s'));
  command.addSubcommand((s) => {
    s.setName('set').setDescription('Change your defaults (what you leave out of /imagine)');
    for (const option of SETTING_OPTIONS) addSettingOption(s, option);
    return s;
  });
  command.addSubcommand((s) => s.setName('reset').setDescription('Forget your settings'));
  command.addSubcommand((s) => {
    s.setName('server').setDescription('Server admins: the server’s defaults (e.g. count 4)');
    for (const option of SETTING_OPTIONS) addSettingOption(s, option);
    return s;
  });
  command.addSubcommand((s) =>
    s.setName('server-reset').setDescription('Server admins: forget the server’s defaults'),
  );
  return command;
}

function creditsCommand(): SlashCommandBuilder {
  return new SlashCommandBuilder()
    .setName('credits')
    .setDescription('Your credits: balance, daily allowance and when it resets, pending jobs, history')
    .setContexts(InteractionContextType.Guild);
}

/** Server admins only: hidden from others by `default_member_permissions`, and checked again in code. */
function quotaCommand() {
  const command = new SlashCommandBuilder()
    .setName('quota')
    .setDescription('Server admins: credits, cooldowns, limits, NSFW policy, banned words, suspensions')
    .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
    .setContexts(InteractionContextType.Guild);
  command.addSubcommand((s) => s.setName('show').setDescription('Show this server’s quota policy'));
  command.addSubcommand((s) =>
    s
      .setName('set')
      .setDescription('Change the defaults, or the limits of one role when a role is given')
      .addRoleOption((o) => o.setName('role').setDescription('Apply to members with this role (a tier)'))
      .addIntegerOption((o) =>
        o
          .setName('allowance')
          .setDescription('Credits per member per UTC day')
          .setMinValue(0)
          .setMaxValue(1_000_000),
      )
      .addIntegerOption((o) =>
        o.setName('cooldown').setDescription('Seconds between requests').setMinValue(0).setMaxValue(86_400),
      )
      .addIntegerOption((o) =>
        o
          .setName('pending-cap')
          .setDescription('Jobs a member may have queued at once')
          .setMinValue(1)
          .setMaxValue(1000),
      )
      .addIntegerOption((o) =>
        o
          .setName('max-size')
          .setDescription('Largest image side in pixels (limits width x height)')
          .setMinValue(64)
          .setMaxValue(8192),
      )
      .addIntegerOption((o) =>
        o
          .setName('max-steps')
          .setDescription('Most denoising steps')
          .setMinValue(1)
          .setMaxValue(STEPS_OPTION_MAX),
      )
      .addIntegerOption((o) =>
        o.setName('priority').setDescription('Role priority 0-9 (with a role)').setMinValue(0).setMaxValue(9),
      )
      .addIntegerOption((o) =>
        o
          .setName('daily-cap')
          .setDescription('Credits the whole server may spend per UTC day (0 = no cap)')
          .setMinValue(0)
          .setMaxValue(100_000_000),
      ),
  );
  command.addSubcommand((s) =>
    s
      .setName('remove-tier')
      .setDescription('Remove the limits set for a role')
      .addRoleOption((o) => o.setName('role').setDescription('The role').setRequired(true)),
  );
  command.addSubcommand((s) =>
    s
      .setName('grant')
      .setDescription('Give a member credits (they never expire)')
      .addUserOption((o) => o.setName('member').setDescription('Who').setRequired(true))
      .addIntegerOption((o) =>
        o
          .setName('amount')
          .setDescription('Credits')
          .setRequired(true)
          .setMinValue(-1_000_000)
          .setMaxValue(1_000_000),
      )
      .addStringOption((o) => o.setName('reason').setDescription('Shown in their history').setMaxLength(200)),
  );
  command.addSubcommand((s) =>
    s
      .setName('nsfw')
      .setDescription('What to do with images the safety checker flags')
      .addStringOption((o) =>
        o
          .setName('policy')
          .setDescription(
            'block: blank image; spoiler: hidden behind a spoiler; or allow in age-restricted channels',
          )
          .setRequired(true)
          .addChoices(...NSFW_POLICIES.map((p) => ({ name: p, value: p }))),
      ),
  );
  command.addSubcommand((s) =>
    s
      .setName('banned-words')
      .setDescription('Refuse prompts with these words (comma-separated)')
      .addStringOption((o) => o.setName('add').setDescription('Words or phrases to ban').setMaxLength(1000))
      .addStringOption((o) =>
        o.setName('remove').setDescription('Words or phrases to allow again').setMaxLength(1000),
      ),
  );
  command.addSubcommand((s) =>
    s
      .setName('suspend')
      .setDescription('Stop a member from generating in this server')
      .addUserOption((o) => o.setName('member').setDescription('Who').setRequired(true)),
  );
  command.addSubcommand((s) =>
    s
      .setName('unsuspend')
      .setDescription('Let a suspended member generate again')
      .addUserOption((o) => o.setName('member').setDescription('Who').setRequired(true)),
  );
  return command;
}

/** Every command, as the JSON body of a bulk overwrite. */
export function commandDefinitions(): RESTPostAPIChatInputApplicationCommandsJSONBody[] {
  return [
    imagineCommand().toJSON(),
    creditsCommand().toJSON(),
    quotaCommand().toJSON(),
    settingsCommand().toJSON(),
  ];
}
