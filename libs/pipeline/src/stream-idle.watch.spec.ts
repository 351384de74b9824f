import { StreamIdleWatch } from './stream-idle.watch';

describe('StreamIdleWatch', () => {
  it('says stalled once, then ended (and forgets), by how long a stream went without detections', () => {
    const watch = new StreamIdleWatch({ stalledSec: 10, endedSec: 30 });
    watch.seen('a', { h: '1' }, 0);
    watch.seen('b', {}, 0);
    expect(watch.check(9_999)).toEqual({ stalled: [], ended: [] });
    watch.seen('b', {}, 9_999);
    expect(watch.check(10_000)).toEqual({
      stalled: [{ streamId: 'a', headers: { h: '1' } }],
      ended: [],
    });
    expect(watch.check(20_000)).toEqual({ stalled: [{ streamId: 'b', headers: {} }], ended: [] }); // a: said already
    expect(watch.check(30_000)).toEqual({
      stalled: [],
      ended: [{ streamId: 'a', headers: { h: '1' } }],
    });
    expect(watch.check(99_000).ended.map((e) => e.streamId)).toEqual(['b']);
    expect(watch.check(200_000)).toEqual({ stalled: [], ended: [] });
  });

  it('tells when a stalled stream resumed, and leaves a forgotten one alone', () => {
    const watch = new StreamIdleWatch({ stalledSec: 1, endedSec: 5 });
    expect(watch.seen('a', {}, 0)).toBe(false);
    watch.check(1_500);
    expect(watch.seen('a', {}, 1_600)).toBe(true);
    expect(watch.seen('a', {}, 1_700)).toBe(false);
    watch.forget('a');
    expect(watch.check(60_000)).toEqual({ stalled: [], ended: [] });
  });

  it('refuses timeouts that cannot work', () => {
    expect(() => new StreamIdleWatch({ stalledSec: 0, endedSec: 5 })).toThrow(/stalledSec/);
    expect(() => new StreamIdleWatch({ stalledSec: 10, endedSec: 5 })).toThrow(/endedSec/);
  });
});
