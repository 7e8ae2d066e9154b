import { InferenceSession } from 'onnxruntime-node';
import { CodedError } from '../errors/coded-error.ts';
import type { Logger } from '../log/logger.ts';
import { missingProviderLibraries } from './provider-libraries.ts';

export type ProviderName = 'cuda' | 'webgpu' | 'cpu';

export interface LoadedSession {
  session: InferenceSession;
  provider: ProviderName;
}

/**
 * Opens ONNX sessions on the first execution provider of the configured preference list that loads
 * (EXECUTION_PROVIDERS, e.g. `cuda,webgpu,cpu`). A provider that fails to initialise (no CUDA
 * libraries, no Vulkan adapter) is remembered and not tried again for the next model part, and the
 * provider in use is logged once.
 */
export class ProviderChooser {
  private readonly unavailable = new Map<ProviderName, string>();
  private announced: ProviderName | undefined;

  constructor(
    readonly preference: readonly ProviderName[],
    private readonly logger: Logger,
    private readonly threads = 0,
  ) {
    if (preference.length === 0) throw new CodedError('config-invalid', 'EXECUTION_PROVIDERS is empty');
  }

  /** Loads `path` (a model.onnx; external weights beside it are found by onnxruntime). */
  async open(path: string, what: string): Promise<LoadedSession> {
    let lastError = '';
    for (const provider of this.preference) {
      const known = this.unavailable.get(provider);
      if (known !== undefined) {
        lastError = known;
        continue;
      }
      const missing = missingProviderLibraries(provider);
      if (missing !== undefined) {
        this.unavailable.set(provider, missing);
        this.logger.warn({ provider, error: missing }, `execution provider ${provider} unavailable`);
        lastError = missing;
        continue;
      }
      try {
        const session = await InferenceSession.create(path, this.options(provider));
        if (this.announced !== provider) {
          this.announced = provider;
          this.logger.info(
            { provider, tried: this.preference },
            `onnxruntime execution provider: ${provider}`,
          );
        }
        return { session, provider };
      } catch (error) {
        lastError = (error as Error).message;
        if (provider !== 'cpu' && isProviderFailure(lastError)) {
          this.unavailable.set(provider, lastError);
          this.logger.warn(
            { provider, error: firstLine(lastError) },
            `execution provider ${provider} unavailable`,
          );
          continue;
        }
        // The model itself is at fault (a corrupt file, an unknown operator): no provider will do better.
        throw new CodedError('model-invalid', `${what} could not be loaded: ${firstLine(lastError)}`, {
          cause: error,
        });
      }
    }
    throw new CodedError(
      'engine-failed',
      `no execution provider of ${this.preference.join(', ')} could load ${what}: ${firstLine(lastError)}`,
    );
  }

  /** The options every session on this provider is created with (patched models' too). */
  sessionOptions(provider: ProviderName): InferenceSession.SessionOptions {
    return this.options(provider);
  }

  private options(provider: ProviderName): InferenceSession.SessionOptions {
    const options: InferenceSession.SessionOptions = {
      executionProviders: [provider],
      graphOptimizationLevel: 'all',
    };
    if (this.threads > 0) options.intraOpNumThreads = this.threads;
    return options;
  }
}

/** Errors that come from the provider's own set-up rather than from the model. */
function isProviderFailure(message: string): boolean {
  return /shared library|backend not found|webgpu|vulkan|adapter|cuda|dawn|provider/i.test(message);
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).slice(0, 300);
}
