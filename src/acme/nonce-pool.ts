/**
 * The nonce pool: every response's `Replay-Nonce` goes in, every signed request takes one out.
 * When the pool is empty and enough requests are already in flight to bring nonces back, a
 * request waits for the next one instead of sending `HEAD newNonce`; with fewer in flight it asks
 * for a fresh one, which opens one more lane. Parallel work thus costs at most `lanes` extra
 * HEADs, however wide it fans out.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.2
 */
export class NoncePool {
  private readonly nonces: string[] = [];
  private readonly waiters: ((nonce: string | undefined) => void)[] = [];
  private inFlight = 0;
  private readonly lanes: number;

  /** @param lanes how many requests may be in flight before an empty pool makes requests wait */
  constructor(lanes: number) {
    this.lanes = lanes;
  }

  /**
   * A nonce from the pool, or the next one to arrive when enough requests are in flight.
   * `undefined` means the caller must fetch a fresh nonce from `newNonce` and then call
   * {@link release}: the lane is reserved for it from now on, so that many callers at once do
   * not all decide to fetch one.
   */
  async take(): Promise<string | undefined> {
    const pooled = this.nonces.pop();
    if (pooled !== undefined) return pooled;
    if (this.inFlight < this.lanes) {
      this.inFlight++;
      return undefined;
    }
    const handed = await new Promise<string | undefined>((resolve) => this.waiters.push(resolve));
    if (handed === undefined) this.inFlight++; // woken to fetch its own: reserve the lane
    return handed;
  }

  /** Ends the reservation {@link take} made for fetching a fresh nonce. */
  release(): void {
    this.settle(undefined);
  }

  /**
   * Marks a request as sent; call the returned function once with its response's nonce, or
   * `undefined` when it brought none (a failure, or a nonce the caller keeps for itself).
   */
  begin(): (nonce: string | undefined) => void {
    this.inFlight++;
    let finished = false;
    return (nonce) => {
      if (finished) return;
      finished = true;
      this.settle(nonce);
    };
  }

  private settle(nonce: string | undefined): void {
    this.inFlight--;
    if (nonce !== undefined) {
      // Newest waiter first: it is usually the next step of work already under way (a challenge
      // answer after its authorization fetch), so started work finishes before new work begins.
      const waiter = this.waiters.pop();
      if (waiter) waiter(nonce);
      else this.nonces.push(nonce);
    } else if (this.waiters.length > 0 && this.inFlight < this.lanes) {
      // Nothing came back: let one waiter fetch its own rather than wait on fewer lanes.
      this.waiters.shift()!(undefined);
    }
  }
}
