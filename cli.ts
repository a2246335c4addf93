/**
 * The `profile` command: `deno run -A cli.ts [options] <script.ts | command …>`
 * (or `deno task profile …`), and `… report <file.json>`. See `cli/main.ts`.
 *
 * @module
 */
import { main } from "./cli/main.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
