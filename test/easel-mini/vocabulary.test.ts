import { describe, expect, it } from 'vitest';
import { SCENE_COLOURS, SCENE_SHAPES } from '../../src/engine/evaluate-shapes/scene-vocabulary.ts';
import { findModel, loadRegistry } from '../../src/models/registry.ts';
import { vocabularyHint } from '../../src/models/vocabulary-hint.ts';

const mini = findModel(loadRegistry(), 'easel-mini');

describe("easel-mini's vocabulary", () => {
  it('in the registry is what the model was trained on (scene-vocabulary.ts mirrors the training script)', () => {
    expect(mini?.vocabulary?.shapes).toEqual([...SCENE_SHAPES]);
    expect(mini?.vocabulary?.colours).toEqual([...SCENE_COLOURS]);
  });

  it('hints only for prompts with none of its words', () => {
    expect(vocabularyHint(mini, 'a lighthouse on a cliff')).toContain(
      'easel-mini knows no word of this prompt',
    );
    expect(vocabularyHint(mini, 'a lighthouse, Red')).toBeUndefined();
    expect(vocabularyHint(mini, 'three triangles')).toBeUndefined();
    expect(vocabularyHint(findModel(loadRegistry(), 'sd-1.5'), 'a lighthouse')).toBeUndefined();
  });
});
