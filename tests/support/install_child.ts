// Child: installs and reports the outcome (mode, or the error's class and
// message), for the loader tests.
import { ModAlloc } from "../../mod.ts";

try {
  const alloc = ModAlloc.install();
  console.log(JSON.stringify({ ok: true, mode: alloc.mode }));
} catch (error) {
  const { name, message } = error as Error;
  console.log(JSON.stringify({ ok: false, name, message }));
}
