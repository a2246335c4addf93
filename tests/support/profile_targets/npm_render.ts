// A real program made of npm packages nobody here wrote: renders a large
// markdown document with markdown-it and round-trips a YAML document with
// yaml, then prints a digest of the results (the same with or without the
// profiler). The packages are imported as a user's script would, pinned to
// exact versions (not through this package's deno.json, which users import).
// deno-lint-ignore-file no-import-prefix
import MarkdownIt from "npm:markdown-it@15.0.3";
import YAML from "npm:yaml@2.9.1";

function markdownSource(sections: number): string {
  const parts: string[] = [];
  for (let i = 0; i < sections; i++) {
    parts.push(
      `## Section ${i}\n\nSome *emphasis*, **strong text**, \`code ${i}\` and a [link](https://example.com/${i}).\n\n` +
        `- item one of ${i}\n- item two with _more_ words\n- item three\n\n` +
        "```ts\nconst value = " + i + ";\n```\n\n| a | b |\n|---|---|\n| " + i + " | " + (i * 2) + " |\n\n> quoted " +
        i + "\n",
    );
  }
  return parts.join("\n");
}

function yamlDocument(entries: number): Record<string, unknown> {
  const services: Record<string, unknown> = {};
  for (let i = 0; i < entries; i++) {
    services[`service-${i}`] = {
      image: `registry.example/app-${i}:1.${i % 10}`,
      ports: [8000 + i, 9000 + i],
      env: { MODE: i % 2 === 0 ? "prod" : "dev", WORKERS: i % 8, NOTE: `multi\nline ${i}` },
      enabled: i % 3 !== 0,
    };
  }
  return { version: 3, services };
}

function digest(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (hash * 31 + text.charCodeAt(i)) >>> 0;
  return hash;
}

const markdown = new MarkdownIt();
let html = "";
for (let round = 0; round < 4; round++) html = markdown.render(markdownSource(1500));
let yamlText = "";
let parsed: unknown;
for (let round = 0; round < 4; round++) {
  yamlText = YAML.stringify(yamlDocument(1500));
  parsed = YAML.parse(yamlText);
}
const services = Object.keys((parsed as { services: object }).services).length;
console.log(
  `html ${html.length} chars #${digest(html)}; yaml ${yamlText.length} chars #${
    digest(yamlText)
  }, ${services} services`,
);
