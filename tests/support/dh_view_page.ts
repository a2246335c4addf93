// A page that opens a DHAT file in valgrind's own viewer (dh_view.js): the
// file goes through the viewer's real "Load…" path (its file input, its
// FileReader, its JSON checks and tree building).
import { DH_VIEW_DIR } from "./tools.ts";

export async function dhViewPage(dhatJson: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "mod-alloc-dh-view-" });
  for (const file of ["dh_view.js", "dh_view.css"]) await Deno.copyFile(`${DH_VIEW_DIR}/${file}`, `${dir}/${file}`);
  const embedded = dhatJson.replaceAll("</", "<\\/");
  await Deno.writeTextFile(
    `${dir}/index.html`,
    `<!DOCTYPE html><html><head><meta charset="utf-8"><link rel="stylesheet" href="dh_view.css">
<script src="dh_view.js"></script></head><body onload="onLoad(); loadData()">
<script id="data" type="application/json">${embedded}</script>
<script>
function loadData() {
  const transfer = new DataTransfer();
  transfer.items.add(new File([document.getElementById("data").textContent], "dhat.json"));
  gInput.files = transfer.files;
  loadFile();
}
</script></body></html>`,
  );
  return dir;
}
