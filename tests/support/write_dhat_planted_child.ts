// Child: plants, as user nobody, symlinks to a victim file under every
// name the old writers staged through (`<out>.tmp-<pid>`, `<out>.raw-<pid>`)
// in a sticky directory, then writes a DHAT file there with writeDhat.
import { ModAlloc } from "../../mod.ts";
import { asNobody } from "./profile_cli.ts";

const [dir, victim] = Deno.args;
for (const suffix of ["tmp", "raw"]) asNobody(["ln", "-s", victim, `${dir}/out.json.${suffix}-${Deno.pid}`]);
const alloc = ModAlloc.install({ backtraces: true });
const kept = new Uint8Array(1 << 16);
alloc.writeDhat(`${dir}/out.json`);
console.log(JSON.stringify({ written: kept.length }));
