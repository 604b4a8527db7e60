/**
 * The order in which a fleet instance takes its first certificates at start, so that instances
 * started together split the work instead of meeting each other's locks (each meeting costs a
 * store command).
 */

/**
 * The order a fleet instance takes its first certificates in: on from a random place; after
 * meeting another instance (its lock, or a certificate it saved), from the middle of the longest
 * stretch of certificates still open, not yet taken here and not likely held elsewhere, so that
 * instances split the work instead of following each other. Another instance walks the list
 * forward, `spread` certificates at a time: the `spread` after one it saved (or whose save is
 * being checked here), and those less than `spread` away from one met locked, are likely its own
 * (held or next); they are left to be awaited ({@link untried}) rather than met, which costs a
 * store command each. (`Slot`: whatever stands for a certificate; compared by identity.)
 */
export class StartQueue<Slot> {
  private readonly order: readonly Slot[];
  private readonly open: (slot: Slot) => boolean;
  private readonly heard: (slot: Slot) => boolean;
  private readonly taken = new Set<Slot>();
  private readonly metLocked = new Set<Slot>();
  private readonly random: () => number;
  private readonly spread: number;
  private cursor: number;

  /**
   * @param state whether a certificate is still to be obtained, and whether another instance's save of it was heard (being checked)
   * @param random where to start (a fraction of the list) and to go on after meeting another instance
   * @param spread how many certificates another instance is taken to work on at once (0: no guessing)
   */
  constructor(order: readonly Slot[], state: { open(slot: Slot): boolean; heard(slot: Slot): boolean }, random: () => number, spread: number) {
    this.order = order;
    this.open = state.open;
    this.heard = state.heard;
    this.random = random;
    this.spread = spread;
    this.cursor = Math.min(Math.floor(random() * order.length), Math.max(order.length - 1, 0));
  }

  /** The next certificate to try, or none when every one is taken here, no longer open or likely held elsewhere. */
  next(): Slot | undefined {
    if (!this.fresh(this.cursor)) this.collided();
    const slot = this.order[this.cursor];
    if (!slot || !this.fresh(this.cursor)) return undefined;
    this.taken.add(slot);
    this.cursor++;
    return slot;
  }

  /** Another instance works here (`slot` was met locked, when given): go on from the middle of the longest fresh stretch. */
  collided(slot?: Slot): void {
    if (slot) this.metLocked.add(slot);
    let best = -1;
    let bestLength = 0;
    let start = -1;
    for (let index = 0; index <= this.order.length; index++) {
      if (index < this.order.length && this.fresh(index)) {
        if (start < 0) start = index;
        continue;
      }
      if (start >= 0 && index - start > bestLength) [best, bestLength] = [start, index - start];
      start = -1;
    }
    // Somewhere in its middle half, not its exact middle: instances meeting at once spread out instead of meeting again.
    this.cursor = best < 0 ? this.order.length : best + Math.floor(bestLength / 4 + this.random() * (bestLength / 2));
  }

  /** The certificates still open that were never tried here (left as likely held elsewhere). */
  untried(): Slot[] {
    return this.order.filter((slot) => !this.taken.has(slot) && this.open(slot));
  }

  private fresh(index: number): boolean {
    if (!this.available(index)) return false;
    for (let distance = 1; distance <= this.spread; distance++) {
      if (this.doneElsewhere(index - distance)) return false;
      if (distance < this.spread && (this.metAt(index - distance) || this.metAt(index + distance))) return false;
    }
    return true;
  }

  private metAt(index: number): boolean {
    const slot = this.order[index];
    return slot !== undefined && this.metLocked.has(slot);
  }

  private doneElsewhere(index: number): boolean {
    const slot = this.order[index];
    return slot !== undefined && !this.taken.has(slot) && (!this.open(slot) || this.heard(slot));
  }

  private available(index: number): boolean {
    const slot = this.order[index];
    return slot !== undefined && !this.taken.has(slot) && this.open(slot) && !this.heard(slot);
  }
}
