import { basename } from 'node:path';

/**
 * A readable, stable stream id from a source: the file name (or URL host and path) as a slug.
 * Stable ids matter: event ids derive from them, so the same clip gets the same ids on every
 * run and in every deployment.
 */
export function streamIdFor(source: string): string {
  let name: string;
  try {
    const url = new URL(source);
    const path = decodeURIComponent(url.pathname);
    name = url.protocol === 'file:' ? basename(path) : `${url.hostname}${path}`;
  } catch {
    name = basename(source);
  }
  const slug = name
    .replace(/\.[a-z0-9]{1,5}$/i, '')
    .replace(/[^a-zA-Z0-9_.-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 100);
  return slug || 'stream';
}

/**
 * Protocols that only ever carry a live feed (a camera, an encoder): treated as live unless
 * the caller says otherwise. http(s) is not among them: it serves files as often as live HLS,
 * and a file treated as live would be re-read from the start every time it ended.
 */
const STREAMING_SCHEME = /^(rtsps?|rtmps?|srt|udp|tcp):\/\//i;

export function isStreamingSource(source: string): boolean {
  return STREAMING_SCHEME.test(source);
}
