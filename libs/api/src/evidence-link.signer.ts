import { createHmac, timingSafeEqual } from 'node:crypto';
import { ApiError, ApiErrorCode } from './api.error';

/**
 * Signed, expiring evidence links for webhook bodies, in the manner of presigned object-store
 * URLs: a receiver can fetch the snapshot without holding an API token, and a leaked link
 * stops working when it expires.
 */
export class EvidenceLinkSigner {
  constructor(
    private readonly baseUrl: string,
    private readonly secret: string,
    private readonly ttlSec: number,
    private readonly now: () => number = Date.now,
  ) {}

  url(eventId: string, name: string): string {
    const expires = Math.floor(this.now() / 1000) + this.ttlSec;
    const path = `/evidence/${encodeURIComponent(eventId)}/${encodeURIComponent(name)}`;
    return `${this.baseUrl}${path}?expires=${expires}&signature=${this.sign(eventId, name, expires)}`;
  }

  /** Throws PERMISSION_DENIED for a link that is not ours or has expired. */
  verify(eventId: string, name: string, expires: string | null, signature: string | null): void {
    const when = Number(expires);
    if (!expires || !signature || !Number.isSafeInteger(when)) {
      throw new ApiError(ApiErrorCode.PERMISSION_DENIED, 'the link is not signed');
    }
    const expected = Buffer.from(this.sign(eventId, name, when), 'hex');
    const given = Buffer.from(signature, 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new ApiError(ApiErrorCode.PERMISSION_DENIED, 'the link signature does not match');
    }
    if (when < Math.floor(this.now() / 1000)) {
      throw new ApiError(ApiErrorCode.PERMISSION_DENIED, 'the link has expired');
    }
  }

  private sign(eventId: string, name: string, expires: number): string {
    return createHmac('sha256', this.secret).update(`${eventId}/${name}:${expires}`).digest('hex');
  }
}
