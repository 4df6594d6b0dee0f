/**
 * Events per second of one connection: a token bucket of `perSecond` tokens a second, holding up to
 * twice that (bursts such as a resend after a reconnect pass; a sustained flood does not).
 */
export class EventRateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.tokens = 2 * perSecond;
    this.last = clock();
  }

  take(): boolean {
    const now = this.clock();
    this.tokens = Math.min(2 * this.perSecond, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
