import { parseLogLine } from './log-line.parser';
import { WarningCollector } from './warning.collector';

describe('WarningCollector', () => {
  it('keeps distinct problems, counts repeats and notices truncation', () => {
    const collector = new WarningCollector();
    for (const line of [
      '[info] Stream mapping:',
      '[swscaler @ 0x1] [warning] deprecated pixel format used, make sure you did set range correctly',
      '[mov,mp4 @ 0x2] [error] stream 0, offset 0x389b0: partial file',
      '[mov,mp4 @ 0x2] [error] stream 1, offset 0x39021: partial file',
      '[aac @ 0x3] [error] Input buffer exhausted before END element found',
      '[error] av_interleaved_write_frame(): Broken pipe',
    ]) {
      collector.push(parseLogLine(line));
    }
    expect(collector.truncationReported).toBe(true);
    expect(collector.warnings()).toEqual([
      'mov,mp4: stream 0, offset 0x389b0: partial file (2 times)',
      'aac: Input buffer exhausted before END element found',
    ]);
  });

  it('is bounded', () => {
    const collector = new WarningCollector(2);
    ['a', 'b', 'c', 'd'].forEach((w) =>
      collector.push({ level: 'warning', component: w, text: `problem ${w}` }),
    );
    expect(collector.warnings()).toEqual([
      'a: problem a',
      'b: problem b',
      '2 more ffmpeg warnings not shown',
    ]);
  });
});
