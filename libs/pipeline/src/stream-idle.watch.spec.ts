import { EDGE_SEQ_HEADER } from './edge-copy.filter';
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

  it('waits longer before ending a stream an edge node sends (its link may be down, its spool filling)', () => {
    const watch = new StreamIdleWatch({ stalledSec: 10, endedSec: 30, edgeEndedSec: 600 });
    watch.seen('edge-cam', { [EDGE_SEQ_HEADER]: 'site-1.abc:41' }, 0);
    watch.seen('central-cam', {}, 0);
    expect(
      watch
        .check(10_000)
        .stalled.map((s) => s.streamId)
        .sort(),
    ).toEqual(['central-cam', 'edge-cam']);
    expect(watch.check(30_000).ended.map((e) => e.streamId)).toEqual(['central-cam']);
    expect(watch.check(599_000)).toEqual({ stalled: [], ended: [] });
    expect(watch.check(600_000).ended.map((e) => e.streamId)).toEqual(['edge-cam']);
    expect(() => new StreamIdleWatch({ stalledSec: 10, endedSec: 30, edgeEndedSec: 20 })).toThrow(
      /edgeEndedSec/,
    );
  });

  it('refuses timeouts that cannot work', () => {
    expect(() => new StreamIdleWatch({ stalledSec: 0, endedSec: 5 })).toThrow(/stalledSec/);
    expect(() => new StreamIdleWatch({ stalledSec: 10, endedSec: 5 })).toThrow(/endedSec/);
  });
});
