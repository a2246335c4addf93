/**
 * Reading the environment without surprising the user: a variable is read
 * only when `--allow-env` already grants it, so loading the library never
 * opens a permission prompt, and a variable that could not be read is
 * reported as such instead of being mistaken for an unset one.
 *
 * @module
 */

/** What reading one environment variable gave. */
export interface EnvRead {
  /** The value; `undefined` when unset, empty, or not readable. */
  value: string | undefined;
  /** True when `--allow-env` does not grant the variable, so it was not read. */
  denied: boolean;
}

/**
 * Reads `name` if the process may; never prompts.
 *
 * @param name The variable's name.
 * @returns The value, or `denied: true` when `--allow-env` does not cover it.
 */
export function readEnvVar(name: string): EnvRead {
  const state = Deno.permissions.querySync({ name: "env", variable: name }).state;
  if (state !== "granted") return { value: undefined, denied: true };
  const value = Deno.env.get(name);
  return { value: value === "" ? undefined : value, denied: false };
}
