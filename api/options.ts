/**
 * Validation of option values shared by the public API.
 *
 * @module
 */

import type { ThreadScope } from "./alloc_stats.ts";
import { OptionError } from "./errors.ts";

/** Checks a `thread` option; undefined means `fallback`. */
export function threadScope(value: unknown, where: string, fallback: ThreadScope): ThreadScope {
  if (value === undefined) return fallback;
  if (value === "all" || value === "current") return value;
  throw new OptionError(`${where}: option "thread" must be "all" or "current", got ${JSON.stringify(value)}.`);
}
