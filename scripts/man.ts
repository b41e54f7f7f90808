// The man pages, made from the manual itself (issue 17): flavourctl(8) from the CLI's own help
// (the command list of `flavourctl --help`, each SYNOPSIS from `flavourctl help COMMAND`), the
// README's opening, docs/command-line.md and every page of docs/commands/; flavourctl-rules(5)
// and flavourctl-machine(5) from docs/files/. Run at package time (scripts/package.sh):
//   node --import tsx scripts/man.ts OUTDIR
//
// Written by hand, not with marked-man or pandoc: the docs use a small subset of markdown
// (headings, paragraphs, fenced blocks, pipe tables, lists, code spans, emphasis, links), and
// turning exactly that into plain man(7) macros takes less code than adapting a general
// converter's output — pandoc's tables need tbl and overflow 80 columns (groff then warns),
// marked-man would add two npm packages to the build. Pipe tables become .TP lists, which
// every man viewer renders; every character beyond ASCII is written as a groff \[uXXXX] escape,
// so the pages need no preconv and read the same in any locale.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { recordingIo } from "../src/cli/io.ts";
import { main } from "../src/cli/main.ts";

/** The pages of docs/commands/ in the order of `flavourctl --help`; any other page follows, by name. */
const COMMAND_PAGES = [
  "list-show.md",
  "resolve.md",
  "set-unset.md",
  "rules-apply.md",
  "vfs.md",
  "udev-hook.md",
  "machine.md",
  "analysis.md",
];

/** The section-5 pages: which file of docs/files/ each is made from, and its NAME line. */
const FILE_PAGES = [
  { name: "flavourctl-rules", source: "rule-files.md", what: "the saved flavour rules of flavourctl" },
  {
    name: "flavourctl-machine",
    source: "machine-files.md",
    what: "the simulated machines of flavourctl (--machine FILE.json)",
  },
];

/** Runs a flavourctl command line in this process and returns what it printed. */
export type Help = (argv: string[]) => Promise<string>;

export const inProcessHelp: Help = async (argv) => {
  const { io, recorded } = recordingIo();
  const code = await main(argv, io);
  if (code !== 0) throw new Error(`flavourctl ${argv.join(" ")}: exit ${code}: ${recorded.stderr}`);
  return recorded.stdout;
};

/** The commands `flavourctl --help` lists, in its order. */
export async function commandNames(help: Help): Promise<string[]> {
  const usage = await help(["--help"]);
  const block = /\nCommands:\n([\s\S]*?)\n\n/.exec(usage)?.[1];
  if (!block) throw new Error("flavourctl --help lists no 'Commands:'");
  return [...new Set(block.split("\n").map((line) => line.trim().split(/\s+/)[0] as string))];
}

/** The `usage:` lines of `flavourctl help COMMAND`, without the word `usage:`. */
function usageLines(text: string): string[] {
  const lines: string[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("usage: ")) lines.push(line.slice("usage: ".length));
    else if (lines.length > 0 && /^\s+\S/.test(line) && line.trim().startsWith("flavourctl "))
      lines.push(line.trim());
    else if (lines.length > 0 && /^\s{8,}\[/.test(line)) lines[lines.length - 1] += ` ${line.trim()}`;
    else if (lines.length > 0) break;
  }
  return lines;
}

// ---- markdown to man(7) ------------------------------------------------------------------------

/** Text for groff: backslashes escaped, every non-ASCII character as \[uXXXX]. */
function roffText(text: string): string {
  return text
    .replace(/\\/g, "\\e")
    .replace(
      /[^\t\x20-\x7e]/gu,
      (c) => `\\[u${(c.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, "0")}]`,
    );
}

/** A literal: hyphens as the minus sign groff would otherwise hyphenate or typeset as a dash. */
const literal = (text: string) => roffText(text).replace(/-/g, "\\-");

/** Inline markdown to groff: code spans bold (man's convention for what is typed), links as their text. */
function inline(text: string): string {
  let out = "";
  const pattern =
    /(`+)([\s\S]*?)\1|\*\*([^*]+)\*\*|(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])|!?\[([^\]]*)\]\([^)]*\)/g;
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    out += plain(text.slice(last, m.index));
    if (m[2] !== undefined) out += `\\fB${literal(m[2].trim())}\\fR`;
    else if (m[3] !== undefined) out += `\\fB${inline(m[3])}\\fR`;
    else if (m[4] !== undefined) out += `\\fI${inline(m[4])}\\fR`;
    else out += inline(m[5] as string);
    last = (m.index as number) + m[0].length;
  }
  return out + plain(text.slice(last));
}

/** Prose: an option named in it (`--force`) keeps its minus signs. */
const plain = (text: string) =>
  roffText(text.replace(/\\\|/g, "|")).replace(
    /(^|[\s(])(--?[A-Za-z][\w-]*)/g,
    (_, before: string, option: string) => before + option.replace(/-/g, "\\-"),
  );

/** One line of roff text: a line starting with . or ' would be read as a request. */
const textLine = (line: string) => (/^[.']/.test(line) ? `\\&${line}` : line);

function cells(row: string): string[] {
  return row
    .trim()
    .replace(/^\|/, "")
    .replace(/\|$/, "")
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim());
}

interface Headings {
  /** how a heading of each level is written, by level (1 = `#`) */
  [level: number]: "SS" | "B" | "skip";
}

/** A markdown page as man(7) source lines. */
function roff(markdown: string, headings: Headings): string[] {
  const out: string[] = [];
  const lines = markdown.split("\n");
  let k = 0;
  const paragraph = (text: string[]) => {
    out.push(".PP");
    for (const line of inline(text.join(" ")).split("\n")) out.push(textLine(line));
  };
  while (k < lines.length) {
    const line = lines[k] as string;
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (line.trim() === "") {
      k++;
    } else if (heading) {
      const how = headings[(heading[1] as string).length] ?? "B";
      const title = heading[2] as string;
      if (how === "SS") out.push(`.SS ${inline(title)}`);
      else if (how === "B") out.push(".PP", `\\fB${inline(title)}\\fR`);
      k++;
    } else if (line.startsWith("```")) {
      const code: string[] = [];
      for (k++; k < lines.length && !(lines[k] as string).startsWith("```"); k++)
        code.push(lines[k] as string);
      k++;
      out.push(".PP", ".RS 4", ".nf");
      for (const c of code) out.push(textLine(literal(c)));
      out.push(".fi", ".RE");
    } else if (line.startsWith("|")) {
      const rows: string[][] = [];
      for (; k < lines.length && (lines[k] as string).startsWith("|"); k++)
        rows.push(cells(lines[k] as string));
      const [header, , ...body] = rows;
      for (const row of body) {
        out.push(".TP", inline(row[0] ?? ""));
        const rest = row.slice(1);
        rest.forEach((cell, i) => {
          if (i > 0) out.push(".br");
          const label = rest.length > 1 && header ? `${inline(header[i + 1] ?? "")}: ` : "";
          out.push(textLine(label + inline(cell)));
        });
      }
    } else if (/^\s*(-|\d+\.)\s/.test(line)) {
      const indent = (/^\s*/.exec(line) as RegExpExecArray)[0].length;
      const item = [line.trim().replace(/^(-|\d+\.)\s+/, "")];
      const mark = line.trim().startsWith("-") ? "\\(bu" : (/^\s*(\d+\.)/.exec(line)?.[1] as string);
      for (k++; k < lines.length; k++) {
        const next = lines[k] as string;
        if (
          next.trim() === "" ||
          /^\s*(-|\d+\.)\s/.test(next) ||
          next.length - next.trimStart().length <= indent
        )
          break;
        item.push(next.trim());
      }
      out.push(`.IP ${mark} 4`);
      for (const l of inline(item.join(" ")).split("\n")) out.push(textLine(l));
    } else {
      const text: string[] = [];
      for (; k < lines.length; k++) {
        const next = lines[k] as string;
        if (
          next.trim() === "" ||
          /^(#|```|\|)/.test(next) ||
          (text.length > 0 && /^\s*(-|\d+\.)\s/.test(next))
        )
          break;
        text.push(next.trim());
      }
      paragraph(text);
    }
  }
  return out;
}

/** The `## name` sections of a page, by name; the text before the first one under "". */
function sections(markdown: string): Map<string, string> {
  const found = new Map<string, string>();
  let name = "";
  let body: string[] = [];
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const heading = fenced ? null : /^## (.*)$/.exec(line);
    if (heading) {
      found.set(name, body.join("\n"));
      [name, body] = [heading[1] as string, []];
    } else if (fenced || !line.startsWith("# ")) body.push(line);
  }
  found.set(name, body.join("\n"));
  return found;
}

function header(name: string, section: number, version: string, date: string): string[] {
  const manual = section === 8 ? "System Administration" : "File Formats";
  return [
    `.\\" Generated by scripts/man.ts from README.md and docs/; edit those, not this file.`,
    `.TH ${name.toUpperCase()} ${section} "${date}" "flavourctl ${version}" "${manual}"`,
  ];
}

export interface ManOptions {
  repo: string;
  help: Help;
  /** the date in the header: the package's (its changelog's), so a build is reproducible */
  date: string;
}

/** Every man page, by file name (`flavourctl.8`, `flavourctl-rules.5`, …), as man(7) source. */
export async function manPages({ repo, help, date }: ManOptions): Promise<Map<string, string>> {
  const read = (path: string) => readFileSync(join(repo, path), "utf8");
  const version = (await help(["--version"])).trim().replace(/^flavourctl /, "");
  const commands = await commandNames(help);
  // the package's one-line description, as apt shows it
  const description = /^Description: (.*)$/m.exec(read("packaging/deb/control"))?.[1];
  if (!description) throw new Error("packaging/deb/control has no Description");
  const pages = new Map<string, string>();

  const eight: string[] = [...header("flavourctl", 8, version, date)];
  eight.push(".SH NAME", `flavourctl \\- ${roffText(description)}`);
  eight.push(".SH SYNOPSIS", ".nf");
  for (const command of commands)
    for (const usage of usageLines(await help(["help", command]))) eight.push(textLine(literal(usage)));
  eight.push(".fi");

  // DESCRIPTION: the README's opening (what and why), then what every command shares
  const readme = read("README.md");
  const opening = readme.slice(readme.indexOf("\n") + 1, readme.indexOf("\n## "));
  const cli = sections(read("docs/command-line.md"));
  eight.push(".SH DESCRIPTION", ...roff(opening, {}));
  eight.push(...roff(cli.get("") ?? "", {}));
  for (const [name, body] of cli)
    if (!["", "Global options", "Exit codes", "Files"].includes(name))
      eight.push(`.SS ${inline(name)}`, ...roff(body, {}));

  eight.push(".SH COMMANDS");
  const present = readdirSync(join(repo, "docs/commands")).filter((f) => f.endsWith(".md"));
  const order = [
    ...COMMAND_PAGES.filter((f) => present.includes(f)),
    ...present.filter((f) => !COMMAND_PAGES.includes(f)).sort(),
  ];
  for (const file of order) {
    // every heading of a page is a subsection; a page title followed at once by the first
    // command's heading (`# list, show, snapshot`, then `## list`) would be an empty one
    const page = read(`docs/commands/${file}`).replace(/^# .*\n\s*\n(?=## )/, "");
    eight.push(...roff(page, { 1: "SS", 2: "SS" }));
  }
  eight.push(".SH OPTIONS", ...roff(cli.get("Global options") ?? "", {}));
  eight.push(".SH EXIT STATUS", ...roff(cli.get("Exit codes") ?? "", {}));
  eight.push(".SH FILES", ...roff(cli.get("Files") ?? "", {}));
  const seeAlso = [
    ...FILE_PAGES.map((p) => `${p.name} (5)`),
    "modprobe (8)",
    "modprobe.d (5)",
    "depmod (8)",
    "lspci (8)",
    "udev (7)",
    "driverctl (8)",
  ];
  eight.push(
    ".SH SEE ALSO",
    ...seeAlso.map((ref, i) => `.BR ${literal(ref)}${i < seeAlso.length - 1 ? " ," : ""}`),
    ".PP",
    "The manual in HTML and markdown: the project's README.md and docs/.",
  );
  pages.set("flavourctl.8", `${eight.join("\n")}\n`);

  for (const file of FILE_PAGES) {
    const five = [...header(file.name, 5, version, date)];
    five.push(".SH NAME", `${file.name} \\- ${roffText(file.what)}`, ".SH DESCRIPTION");
    five.push(...roff(read(`docs/files/${file.source}`), { 1: "skip", 2: "SS" }));
    five.push(".SH SEE ALSO", ".BR flavourctl (8)");
    pages.set(`${file.name}.5`, `${five.join("\n")}\n`);
  }
  return pages;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [outDir, date] = process.argv.slice(2);
  if (!outDir || !date) {
    console.error("usage: node --import tsx scripts/man.ts OUTDIR DATE");
    process.exit(64);
  }
  const repo = new URL("..", import.meta.url).pathname;
  for (const [name, text] of await manPages({ repo, help: inProcessHelp, date }))
    writeFileSync(join(outDir, name), text);
}
