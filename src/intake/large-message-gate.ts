/**
 * Bounds the memory that large messages can take. Each message is held several times over while it is
 * read, parsed and written to Redis (about four copies at the peak), so ten 10 MiB messages arriving at
 * once would cost half a gigabyte. Past `thresholdBytes` a message must hold one of a few slots to be
 * read further; the others wait, and TCP backpressure holds their senders. Small messages never wait,
 * and a message holding a slot always finishes, so waiting cannot deadlock.
 */
export class LargeMessageGate {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(
    slots: number,
    readonly thresholdBytes: number,
  ) {
    this.free = slots;
  }

  /**
   * Resolves with a release function once a slot is free, or with null after `waitMs`: a sender
   * trickling a large message holds its slot, and the others must not wait on it for ever.
   */
  async acquire(waitMs = Infinity): Promise<(() => void) | null> {
    if (this.free > 0) this.free--;
    else {
      const granted = await new Promise<boolean>((resolve) => {
        const turn = () => {
          clearTimeout(timer);
          resolve(true);
        };
        const timer = Number.isFinite(waitMs)
          ? setTimeout(() => {
              this.waiting.splice(this.waiting.indexOf(turn), 1);
              resolve(false);
            }, waitMs)
          : undefined;
        this.waiting.push(turn);
      });
      if (!granted) return null;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}
