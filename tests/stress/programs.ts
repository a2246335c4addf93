// Real, allocation-heavy programs that nobody here wrote, each a command
// with deterministic output, for the "output unchanged under preload"
// stress section.
export interface RealProgram {
  name: string;
  command: string[];
  /** The command runs only if this executable exists. */
  requires: string;
}

const PYTHON = `
import json, re, collections, hashlib, itertools
words = [f"w{i % 997}-{i % 13}" for i in range(200000)]
counts = collections.Counter(words)
doc = {"top": counts.most_common(5), "n": len(counts)}
text = json.dumps(doc, sort_keys=True)
digest = hashlib.sha256("".join(sorted(set(words))).encode()).hexdigest()
pairs = sum(1 for a, b in itertools.combinations(range(300), 2) if (a * b) % 7 == 0)
print(text, digest, pairs, len(re.findall(r"w9\\d-1", " ".join(words[:50000]))))
`;

const SQL = `
create table t(id integer primary key, name text, value real);
with recursive n(i) as (select 1 union all select i + 1 from n where i < 20000)
insert into t(name, value) select 'name-' || (i % 500), i * 1.5 from n;
create index t_name on t(name);
select name, count(*), sum(value) from t group by name order by sum(value) desc limit 5;
select count(*) from t where name like 'name-1%';
`;

const NODE = `
const m = new Map();
for (let i = 0; i < 200000; i++) m.set("k" + (i % 5000), Buffer.alloc(32 + (i % 64), i % 251));
let total = 0;
for (const v of m.values()) total += v.length + v[0];
const json = JSON.parse(JSON.stringify([...m.keys()].slice(0, 1000)));
console.log(m.size, total, json.length, require("crypto").createHash("sha1").update(json.join()).digest("hex"));
`;

export function realPrograms(root: string, deno: string): RealProgram[] {
  return [
    {
      name: "python3 (stdlib: json, re, collections, hashlib)",
      command: ["python3", "-c", PYTHON],
      requires: "python3",
    },
    { name: "sqlite3 (20k rows, index, group by)", command: ["sqlite3", ":memory:", SQL], requires: "sqlite3" },
    {
      name: "git (log of this repository)",
      command: ["git", "-C", root, "log", "--format=%H %s", "-n", "200"],
      requires: "git",
    },
    { name: "node (Map, Buffer, JSON, crypto)", command: ["node", "-e", NODE], requires: "node" },
    {
      name: "deno (typed arrays, JSON, TextEncoder)",
      command: [deno, "run", "--no-lock", `${root}tests/stress/deno_workload.ts`],
      requires: deno,
    },
  ];
}
