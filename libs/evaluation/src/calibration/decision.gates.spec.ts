import { ClassDecider, type ClassScore, logit, sigmoid } from '@app/models';
import { baselineGate, exclusivityGate } from './decision.gates';

describe('decision gates (calibration counts what ClassDecider reports)', () => {
  it('silences windows under the stream ambient bar, at any threshold, as the decider does', () => {
    const policy = { windows: 6, minWindows: 4, marginLogit: 1, ceiling: 0.9 };
    // Constant clinking at 0.6, then a real event at 0.85 and a loud one at 0.95.
    const scores = [0.6, 0.6, 0.6, 0.6, 0.6, 0.7, 0.85, 0.6, 0.95];
    const gated = baselineGate(scores, policy);
    // The bar is sigmoid(logit(0.6) + 1) = 0.80 once four windows were seen.
    expect(Array.from(gated)).toEqual([0.6, 0.6, 0.6, 0.6, 0, 0, 0.85, 0, 0.95]);
    for (const threshold of [0.3, 0.65, 0.9]) {
      const decider = new ClassDecider({ baseline: policy });
      const reported = scores.map(
        (score, w) =>
          decider.decide(w, [{ cls: 'glass_break', score, threshold, labels: [] }]).length > 0,
      );
      expect(reported).toEqual(Array.from(gated, (g) => g >= threshold));
    }
  });

  it('lets a window pass only where its margin beats a rival that passed within the span', () => {
    const atSec = [0, 0.5, 1, 3];
    const rival = { scores: [0.2, 0.9, 0.1, 0.95], threshold: 0.5 };
    const gunshot = [0.8, 0.8, 0.99, 0.8];
    const gated = exclusivityGate(gunshot, atSec, rival, 0.5);
    const rivalMargin = logit(0.9) - logit(0.5);
    // Windows 0–2 see the 0.9 rival within 0.5 s; window 3 sees the 0.95 one.
    expect(gated[0]).toBeCloseTo(sigmoid(logit(0.8) - rivalMargin), 9);
    expect(gated[2]).toBeCloseTo(sigmoid(logit(0.99) - rivalMargin), 9);
    expect(gated[3]).toBeCloseTo(sigmoid(logit(0.8) - (logit(0.95) - logit(0.5))), 9);
    // At a gunshot threshold of 0.7: its margin over 0.7 against the rival's over 0.5.
    const passes = (g: number) => g >= 0.7;
    const margin = (s: number) => logit(s) - logit(0.7);
    expect(passes(gated[0]!)).toBe(margin(0.8) >= rivalMargin);
    expect(passes(gated[2]!)).toBe(margin(0.99) >= rivalMargin);
  });

  it('leaves a window alone when no rival passed near it', () => {
    const gated = exclusivityGate([0.8, 0.3], [0, 5], { scores: [0.4, 0.2], threshold: 0.5 }, 0.5);
    expect(Array.from(gated)).toEqual([0.8, 0.3]);
  });

  it("mirrors the decider's one-impulse rule on a window both classes pass", () => {
    const decider = new ClassDecider({
      exclusive: [['glass_break', 'gunshot']],
      exclusiveSec: 0.5,
    });
    const both: ClassScore[] = [
      { cls: 'glass_break', score: 0.9, threshold: 0.5, labels: [] },
      { cls: 'gunshot', score: 0.95, threshold: 0.8, labels: [] },
    ];
    const kept = decider.decide(0, both).map((d) => d.cls);
    const gated = exclusivityGate([0.95], [0], { scores: [0.9], threshold: 0.5 }, 0.5)[0]!;
    expect(kept).toEqual(gated >= 0.8 ? ['gunshot'] : ['glass_break']);
  });
});
