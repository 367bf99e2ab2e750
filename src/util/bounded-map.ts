/**
 * Sets `key` in `map` as its most recent entry, then forgets the least recently set ones beyond `max`: a
 * cache of a long-running worker must not grow with every new key it meets (a Map keeps insertion order).
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  for (const oldest of map.keys()) {
    if (map.size <= max) break;
    map.delete(oldest);
  }
}
