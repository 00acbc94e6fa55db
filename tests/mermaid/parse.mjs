// Parse Mermaid diagrams with Mermaid's own parser (the one GitHub and GitLab run).
// stdin: a JSON list of diagram sources. stdout: a JSON list, one result per source:
// {"ok": true, "type": "gantt", "tasks": [{section, text, start, end, classes}]}
// or {"ok": false, "error": "..."}. Task and section texts are as the diagram shows
// them (Mermaid's #NNN; entities decoded). Run with TZ=UTC.
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!DOCTYPE html><body></body>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");

function shown(text) {
  // Mermaid hides `#NNN;` entities from its grammar as ﬂ°°NNN¶ß and turns them back
  // when it draws; do the same, then let the DOM decode the entity.
  const html = text.replace(/ﬂ°°(\w+)¶ß/g, (_m, code) =>
    /^\d+$/.test(code) ? `&#${code};` : `&${code};`,
  ).replace(/ﬂ°(\w+)¶ß/g, (_m, code) => `&${code};`);
  const el = document.createElement("textarea");
  el.innerHTML = html;
  return el.value;
}

const sources = JSON.parse(await new Promise((resolve) => {
  let data = "";
  process.stdin.on("data", (chunk) => (data += chunk));
  process.stdin.on("end", () => resolve(data));
}));
const results = [];
for (const source of sources) {
  try {
    const parsed = await mermaid.parse(source);
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(source);
    const tasks = diagram.db.getTasks ? diagram.db.getTasks() : [];
    results.push({
      ok: true,
      type: parsed.diagramType,
      tasks: tasks.map((t) => ({
        section: shown(t.section),
        text: shown(t.task).trim(),
        start: t.startTime.toISOString(),
        end: t.endTime.toISOString(),
        classes: t.classes,
        done: Boolean(t.done),
        active: Boolean(t.active),
      })),
    });
  } catch (e) {
    results.push({ ok: false, error: String(e && e.message ? e.message : e) });
  }
}
process.stdout.write(JSON.stringify(results));
