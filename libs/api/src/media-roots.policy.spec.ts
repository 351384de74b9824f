import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, ApiErrorCode } from './api.error';
import { MediaRootsPolicy } from './media-roots.policy';

describe('MediaRootsPolicy', () => {
  let dir: string;
  let media: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-roots-'));
    media = join(dir, 'media');
    mkdirSync(media);
    writeFileSync(join(media, 'cam.mp4'), '');
    writeFileSync(join(dir, 'secret.key'), '');
    symlinkSync(join(dir, 'secret.key'), join(media, 'innocent.mp4'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const denied = (policy: MediaRootsPolicy, source: string) => {
    try {
      policy.check(source);
    } catch (error) {
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).code).toBe(ApiErrorCode.PERMISSION_DENIED);
      return (error as ApiError).message;
    }
    return undefined;
  };

  it('refuses every local file when no root is configured, and leaves URLs to the protocol whitelist', () => {
    const none = new MediaRootsPolicy([]);
    expect(denied(none, '/etc/passwd')).toMatch(
      /^source: local files may be started only under a media root/,
    );
    expect(denied(none, 'file:///etc/passwd')).toMatch(/none is configured/);
    expect(denied(none, 'rtsp://cam/stream1')).toBeUndefined();
    expect(denied(none, 'https://example.com/clip.mp4')).toBeUndefined();
  });

  it('plays files under a root, and refuses ones outside it however they are spelled', () => {
    const policy = new MediaRootsPolicy([media]);
    expect(denied(policy, join(media, 'cam.mp4'))).toBeUndefined();
    expect(denied(policy, `file://${join(media, 'cam.mp4')}`)).toBeUndefined();
    expect(denied(policy, '/etc/passwd')).toMatch(
      /^source: \/etc\/passwd is outside the media roots/,
    );
    expect(denied(policy, join(media, '..', 'secret.key'))).toMatch(/outside the media roots/);
    // A symlink inside the root that points out of it is judged by where it points.
    expect(denied(policy, join(media, 'innocent.mp4'))).toMatch(/outside the media roots/);
    expect(denied(policy, `${media}-other/cam.mp4`)).toMatch(/outside the media roots/);
  });
});
