import { prettyLine } from './pretty.stream';

describe('prettyLine', () => {
  it('turns a JSON record into a readable line with its context fields', () => {
    const line = prettyLine(
      JSON.stringify({
        level: 'warn',
        time: '2026-12-07T01:02:03.456Z',
        app: 'vigil-ingest',
        pid: 1,
        context: 'IngestWorker',
        msg: 'reconnecting',
        streamId: 'lobby',
        attempt: 2,
      }),
      false,
    );
    expect(line).toBe('01:02:03.456 WARN  [IngestWorker] reconnecting  streamId=lobby attempt=2\n');
  });

  it('shows an error stack under the line and colours the level on a terminal', () => {
    const line = prettyLine(
      JSON.stringify({
        level: 'error',
        time: '2026-12-07T01:02:03.456Z',
        msg: 'failed',
        err: { stack: 'Error: x\n    at y' },
      }),
      true,
    );
    expect(line).toBe('01:02:03.456 \x1b[31mERROR\x1b[0m failed\nError: x\n    at y\n');
  });

  it('passes a line that is not JSON through', () => {
    expect(prettyLine('plain', false)).toBe('plain\n');
  });
});
