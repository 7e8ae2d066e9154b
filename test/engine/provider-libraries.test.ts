import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { missingProviderLibraries } from '../../src/engine/provider-libraries.ts';

describe('the CUDA provider check before onnxruntime is asked', () => {
  it.runIf(process.platform === 'linux')(
    'names the missing libraries, and passes once they are there',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'easel-ort-bin-'));
      expect(missingProviderLibraries('cuda', dir)).toContain('libonnxruntime_providers_shared.so');
      writeFileSync(join(dir, 'libonnxruntime_providers_shared.so'), '');
      writeFileSync(join(dir, 'libonnxruntime_providers_cuda.so'), '');
      expect(missingProviderLibraries('cuda', dir)).toBeUndefined();
    },
  );

  it('leaves other providers to onnxruntime', () => {
    expect(missingProviderLibraries('cpu')).toBeUndefined();
    expect(missingProviderLibraries('webgpu')).toBeUndefined();
  });
});
