/**
 * The `profile` command: `deno run -A cli.ts [options] <script.ts> [args]`
 * (or `deno task profile …`). See `api/profile_cli.ts` for what it does.
 *
 * @module
 */
import { main } from "./api/profile_cli.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
