import type { Clock } from './clock';
import { ProgressBar, formatClock } from './progress.bar';

describe('ProgressBar', () => {
  it('draws position, duration and speed, throttled to 10 redraws a second', () => {
    let now = 1_000;
    const clock: Clock = { now: () => now };
    let written = '';
    const out = { write: (s: string) => ((written += s), true) } as unknown as NodeJS.WriteStream;
    const bar = new ProgressBar(out, clock, 10);
    bar.start();
    now += 2_000;
    bar.update(5, 10);
    expect(written).toBe('\r[#####.....] 0:05.0 / 0:10.0  2.5× real time\x1b[K');
    now += 50;
    bar.update(6, 10); // within 100 ms of the last draw: skipped
    expect(written.split('\r')).toHaveLength(2);
    bar.finish();
    expect(written.endsWith('\r\x1b[K')).toBe(true);
  });

  it('counts items for eval, always drawing the last one', () => {
    let now = 0;
    let written = '';
    const out = { write: (s: string) => ((written += s), true) } as unknown as NodeJS.WriteStream;
    const bar = new ProgressBar(out, { now: () => now }, 10);
    bar.start();
    now += 3_000;
    bar.count(4, 8, 'items');
    expect(written).toBe('\r[#####.....] 4/8 items  3 s\x1b[K');
    now += 10;
    bar.count(5, 8, 'items'); // throttled
    bar.count(8, 8, 'items'); // the last one is always drawn
    expect(written.split('\r').pop()).toBe('[##########] 8/8 items  3 s\x1b[K');
  });

  it('formats clock times', () => {
    expect(formatClock(0)).toBe('0:00.0');
    expect(formatClock(4.07)).toBe('0:04.1');
    expect(formatClock(139.5)).toBe('2:19.5');
  });
});
