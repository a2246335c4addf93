// A hot loop V8 compiles: the allocating line is line 6 (new Uint8Array).
function makeRows(count: number): Uint8Array[] {
  const rows: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    // the allocation
    const row = new Uint8Array(64 + (i % 7));
    rows.push(row);
  }
  return rows;
}
let total = 0;
for (let round = 0; round < 3000; round++) total += makeRows(200).length;
console.log(total);
