import type { CanonicalClass, DetectionSet } from '@app/contracts';
import { SuppressionGate } from './suppression.gate';

const set = (streamId: string, ...classes: CanonicalClass[]): DetectionSet => ({
  streamId,
  modality: 'audio',
  seq: 1,
  startSec: 0,
  endSec: 1,
  atSec: 0.5,
  model: 'm',
  detections: classes.map((cls) => ({ modality: 'audio', cls, score: 0.9, labels: [] })),
});

describe('SuppressionGate', () => {
  it('drops the suppressed classes of its stream only, until they expire', () => {
    let now = 100;
    const gate = new SuppressionGate(() => now);
    const untouched = set('lobby', 'glass_break', 'speech');
    expect(gate.filter(untouched)).toBe(untouched);
    gate.replace([
      { streamId: 'lobby', cls: 'glass_break', until: 200 },
      { streamId: 'lobby', cls: 'dog_bark', until: 150 },
    ]);
    expect(gate.filter(set('lobby', 'glass_break', 'speech')).detections.map((d) => d.cls)).toEqual(
      ['speech'],
    );
    const yard = set('yard', 'glass_break');
    expect(gate.filter(yard)).toBe(yard);
    now = 200;
    expect(gate.filter(set('lobby', 'glass_break')).detections).toHaveLength(1);
    gate.replace([]);
    now = 100;
    expect(gate.filter(set('lobby', 'glass_break')).detections).toHaveLength(1);
  });
});
