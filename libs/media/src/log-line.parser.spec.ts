import { parseLogLine } from './log-line.parser';

describe('parseLogLine', () => {
  it('splits component, level and text, keeping indentation', () => {
    expect(parseLogLine('[info]   Stream #0:0: Video: mjpeg')).toEqual({
      level: 'info',
      text: '  Stream #0:0: Video: mjpeg',
    });
    expect(
      parseLogLine(
        '[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55ab] [error] stream 0, offset 0x389b0: partial file',
      ),
    ).toEqual({
      level: 'error',
      component: 'mov,mp4,m4a,3gp,3g2,mj2',
      text: 'stream 0, offset 0x389b0: partial file',
    });
  });

  it('names the innermost of nested components', () => {
    expect(
      parseLogLine('[swscaler @ 0x1] [swscaler @ 0x2] [warning] deprecated pixel format used')
        .component,
    ).toBe('swscaler');
  });

  it('gives untagged continuation lines the previous level', () => {
    expect(parseLogLine('If you wish to override this adjust allowed_extensions', 'error')).toEqual(
      {
        level: 'error',
        text: 'If you wish to override this adjust allowed_extensions',
      },
    );
  });
});
