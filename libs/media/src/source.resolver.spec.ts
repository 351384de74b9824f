import type { FileFacts } from './file.inspector';
import { MediaErrorCode } from './media.error';
import { SourceResolver } from './source.resolver';

function resolver(files: Record<string, FileFacts>) {
  const stat = jest.fn((path: string) => files[path]);
  return { resolver: new SourceResolver({ stat }, () => '/work'), stat };
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe('SourceResolver', () => {
  it('turns a local path into an absolute file: input that no file name can subvert', () => {
    const { resolver: r } = resolver({ '/work/-i.mp4': { isFile: true, size: 10 } });
    expect(r.resolve('-i.mp4')).toEqual({
      scheme: 'file',
      input: 'file:/work/-i.mp4',
      label: '/work/-i.mp4',
      protocols: ['file'],
      network: false,
      liveByDefault: false,
    });
  });

  it('accepts file: URLs', () => {
    const { resolver: r } = resolver({ '/clips/a b.mp4': { isFile: true, size: 10 } });
    expect(r.resolve('file:///clips/a%20b.mp4').input).toBe('file:/clips/a b.mp4');
  });

  it('reports a missing path, a directory and an empty file without running anything', () => {
    const { resolver: r } = resolver({
      '/d': { isFile: false, size: 4096 },
      '/e.mp4': { isFile: true, size: 0 },
    });
    expect(codeOf(() => r.resolve('/missing.mp4'))).toBe(MediaErrorCode.SOURCE_NOT_FOUND);
    expect(codeOf(() => r.resolve('/d'))).toBe(MediaErrorCode.UNSUPPORTED_INPUT);
    expect(codeOf(() => r.resolve('/e.mp4'))).toBe(MediaErrorCode.UNSUPPORTED_INPUT);
    expect(codeOf(() => r.resolve('  '))).toBe(MediaErrorCode.SOURCE_NOT_FOUND);
  });

  it('refuses schemes outside the list before ffmpeg could try them', () => {
    const { resolver: r, stat } = resolver({});
    for (const source of [
      'ftp://h/a.mp4',
      'concat:/a.mp4|/b.mp4',
      'data:video/mp4;base64,AAAA',
      'subfile:,start,0,end,1,:/etc/passwd',
      'gopher://h/',
    ]) {
      expect(codeOf(() => r.resolve(source))).toBe(MediaErrorCode.PROTOCOL_NOT_ALLOWED);
    }
    expect(stat).not.toHaveBeenCalled();
  });

  it('gives remote sources a whitelist without file, and marks streaming protocols live', () => {
    const { resolver: r } = resolver({});
    const http = r.resolve('https://user:pw@cdn.example/a.m3u8?token=1');
    expect(http.protocols).not.toContain('file');
    expect(http.protocols).toEqual(expect.arrayContaining(['https', 'tls', 'tcp']));
    expect(http.label).toBe('https://***@cdn.example/a.m3u8?***');
    expect(http.liveByDefault).toBe(false);
    const rtsp = r.resolve('rtsp://cam:554/live');
    expect(rtsp.protocols).toEqual(['rtsp', 'rtp', 'udp', 'tcp']);
    expect(rtsp.liveByDefault).toBe(true);
    expect(r.resolve('udp://0.0.0.0:1234').protocols).toEqual(['udp']);
  });

  it('rejects URLs without a host', () => {
    const { resolver: r } = resolver({});
    expect(codeOf(() => r.resolve('http://'))).toBe(MediaErrorCode.SOURCE_NOT_FOUND);
  });
});
