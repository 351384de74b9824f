import type { CanonicalClass } from '@app/contracts';
import { ClassDecider, decisionPolicyOf } from './class.decider';
import type { ClassScore } from './label-group.mapper';
import { validateManifest } from './model.manifest';
import efficientat from './catalog/efficientat-mn04.model.json';

const score = (cls: CanonicalClass, value: number, threshold = 0.2): ClassScore => ({
  cls,
  score: value,
  threshold,
  labels: [cls],
});

const classes = (detections: { cls: string }[]) => detections.map((d) => d.cls);

describe('ClassDecider', () => {
  it('without a policy, reports what clears its threshold, best first', () => {
    const decider = new ClassDecider();
    expect(
      classes(decider.decide(0, [score('siren', 0.3), score('alarm', 0.9), score('scream', 0.1)])),
    ).toEqual(['alarm', 'siren']);
  });

  it('holds a class on down to its release level (hysteresis)', () => {
    const decider = new ClassDecider({ release: { siren: 0.1 } });
    const run = [0.15, 0.3, 0.15, 0.05, 0.15].map((v, i) =>
      classes(decider.decide(i / 2, [score('siren', v)])),
    );
    expect(run).toEqual([[], ['siren'], ['siren'], [], []]);
  });

  it('calls one impulse one class: the better supported, in the same window and within exclusiveSec', () => {
    const decider = new ClassDecider({
      exclusive: [['glass_break', 'gunshot']],
      exclusiveSec: 0.5,
    });
    // Glass at 3x its threshold, gunshot barely over: the sound is a glass break.
    expect(
      classes(
        decider.decide(1, [
          score('glass_break', 0.6),
          score('gunshot', 0.25),
          score('speech', 0.5),
        ]),
      ),
    ).toEqual(['glass_break', 'speech']);
    // The next window sees the same impulse a little later, weaker as glass: still not a gunshot.
    expect(
      classes(decider.decide(1.4, [score('glass_break', 0.1), score('gunshot', 0.3)])),
    ).toEqual([]);
    // A clear shot 2 s later is a new impulse.
    expect(classes(decider.decide(3.4, [score('gunshot', 0.9)]))).toEqual(['gunshot']);
  });

  it('raises a class bar on a stream where the class is always in the air (ambient baseline)', () => {
    const policy = { baseline: { windows: 20, minWindows: 10, marginLogit: 2, ceiling: 0.9 } };
    const cafe = new ClassDecider(policy);
    const quiet = new ClassDecider(policy);
    for (let i = 0; i < 20; i++) {
      // Clinking keeps glass_break around 0.15 (under the threshold) on the café stream.
      cafe.decide(i / 2, [score('glass_break', 0.15)]);
      quiet.decide(i / 2, [score('glass_break', 0.002)]);
    }
    // The same 0.35 clink is news on a quiet stream, and ambience in the café.
    expect(classes(quiet.decide(10, [score('glass_break', 0.35)]))).toEqual(['glass_break']);
    expect(classes(cafe.decide(10, [score('glass_break', 0.35)]))).toEqual([]);
    // A real break, far above the café's usual, still gets through.
    expect(classes(cafe.decide(10.5, [score('glass_break', 0.8)]))).toEqual(['glass_break']);
  });

  it('reads its policy from the catalog manifest', () => {
    const policy = decisionPolicyOf(validateManifest(efficientat));
    expect(policy.exclusive).toEqual([['glass_break', 'gunshot']]);
  });

  it("takes release levels from the label groups in use (the companion's, where it runs)", () => {
    const manifest = validateManifest(efficientat);
    const groups = { scream: { labels: ['Screaming'], threshold: 0.8, release: 0.4 } };
    expect(decisionPolicyOf(manifest, groups).release).toEqual({ scream: 0.4 });
    expect(decisionPolicyOf(manifest).release).toEqual({});
  });
});
