import { mapFfmpegFailure } from './ffmpeg-error.mapper';
import { MediaErrorCode } from './media.error';

function map(lines: string[], code: number | null = 1, signal: NodeJS.Signals | null = null) {
  return mapFfmpegFailure({
    label: 'SRC',
    input: 'file:/x/a.mp4',
    code,
    signal,
    stderrTail: lines,
  });
}

describe('mapFfmpegFailure', () => {
  it.each([
    [['[error] file:/x/a.mp4: No such file or directory'], MediaErrorCode.SOURCE_NOT_FOUND],
    [['[error] http://h/a.mp4: Server returned 404 Not Found'], MediaErrorCode.SOURCE_NOT_FOUND],
    [
      [
        '[tcp @ 0x1] [error] Connection to tcp://127.0.0.1:9 failed: Connection refused',
        '[error] http://127.0.0.1:9/x.mp4: Connection refused',
      ],
      MediaErrorCode.SOURCE_UNREACHABLE,
    ],
    [
      ['[error] rtsp://cam/live: method DESCRIBE failed: 401 Unauthorized'],
      MediaErrorCode.SOURCE_UNREACHABLE,
    ],
    [
      ['[tcp @ 0x1] [error] Failed to resolve hostname nowhere.invalid: Name or service not known'],
      MediaErrorCode.SOURCE_UNREACHABLE,
    ],
    [['[error] foo://bar: Protocol not found'], MediaErrorCode.PROTOCOL_NOT_ALLOWED],
    [
      [
        '[mov @ 0x1] [error] moov atom not found',
        '[error] file:/x/a.mp4: Invalid data found when processing input',
      ],
      MediaErrorCode.UNSUPPORTED_INPUT,
    ],
    [['[fatal] Output file #0 does not contain any stream'], MediaErrorCode.UNSUPPORTED_INPUT],
    [
      ['[fatal] Decoder (codec av1) not found for input stream #0:0'],
      MediaErrorCode.UNSUPPORTED_INPUT,
    ],
    [
      ['[error] Error while filtering: Cannot allocate memory', '[info] Conversion failed!'],
      MediaErrorCode.DECODE_FAILED,
    ],
  ])('maps %j to %s', (lines, code) => {
    expect(map(lines).code).toBe(code);
  });

  it('prefers the refused protocol over the generic "Invalid data" that follows it', () => {
    const error = map([
      "[hls @ 0x1] [info] Opening 'file:///tmp/secret.ts' for reading",
      "[file @ 0x2] [error] Protocol 'file' not on whitelist 'http,https,tcp,tls,crypto'!",
      '[hls @ 0x1] [error] Failed to open segment 0 of playlist 0',
      '[error] http://h/a.m3u8: Invalid data found when processing input',
    ]);
    expect(error.code).toBe(MediaErrorCode.PROTOCOL_NOT_ALLOWED);
    expect(error.message).toContain("Protocol 'file' not on whitelist");
  });

  it('treats an HLS entry with a forbidden extension as a refused protocol', () => {
    const error = map([
      '[hls @ 0x1] [error] URL file:///etc/passwd is not in allowed_segment_extensions',
      '[error] http://h/a.m3u8: Invalid data found when processing input',
    ]);
    expect(error.code).toBe(MediaErrorCode.PROTOCOL_NOT_ALLOWED);
  });

  it('writes one line naming the source without repeating ffmpeg prefixes', () => {
    const error = map([
      '[mov @ 0x1] [error] moov atom not found',
      '[error] file:/x/a.mp4: Invalid data found when processing input',
    ]);
    expect(error.message).toBe(
      'Unsupported input SRC: not a media file ffmpeg can read, or cut before its index (moov atom not found)',
    );
    expect(error.message).not.toContain('\n');
    const notFound = map(['[error] file:/x/a.mp4: No such file or directory']);
    expect(notFound.message).toBe('Source not found: SRC (No such file or directory)');
  });

  it('falls back to the last error line and the exit status', () => {
    const error = map(
      [
        '[info] Stream mapping:',
        '[error] Error while filtering: Cannot allocate memory',
        '[error] Conversion failed!',
      ],
      1,
    );
    expect(error.code).toBe(MediaErrorCode.DECODE_FAILED);
    expect(error.message).toBe(
      'Decoding failed for SRC: Error while filtering: Cannot allocate memory (ffmpeg exit code 1)',
    );
    expect(map([], null, 'SIGKILL').message).toBe(
      'Decoding failed for SRC: ffmpeg was killed by SIGKILL',
    );
  });

  it('keeps the stderr tail on the error for diagnosis', () => {
    const lines = ['[error] file:/x/a.mp4: No such file or directory'];
    expect(map(lines).stderrTail).toEqual(lines);
  });
});
