/**
 * Binary search over arrays sorted by a bigint key.
 *
 * @module
 */

/** Index of the last item whose key is <= `target`, or -1 if none. */
export function lastAtOrBelow<T>(items: readonly T[], key: (item: T) => bigint, target: bigint): number {
  let low = 0;
  let high = items.length - 1;
  let best = -1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (key(items[middle]) <= target) {
      best = middle;
      low = middle + 1;
    } else high = middle - 1;
  }
  return best;
}
