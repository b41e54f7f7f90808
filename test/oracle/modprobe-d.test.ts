// modprobe.d against libkmod itself: Debian 12's own /lib/modprobe.d (test/fixtures/modprobe.d/
// debian-12: kmod 30's aliases.conf, udev 252's fbdev-blacklist.conf, systemd 252's
// systemd.conf) and crafted files in several directories — alias lines with globs, blacklist,
// options, softdep, install/remove, comments, line continuations, bad lines, a file shadowing
// another by name, names libkmod 30 reads (*.conf, *.alias) and does not (.hidden.conf, .conf,
// notes.txt, a directory named *.conf), a single file given as a path — read by libkmod
// (kmod-resolve --config and lookups, with the same search path) and by flavourctl
// (loadConfig, softdeps, lookup) on the Debian 6.12 tree with its modules.softdep. Compared:
// the aliases, blacklist, install and remove commands and softdep lines libkmod keeps, in its
// order; which lines it refuses (its log); every module's soft dependencies; and the lookups
// of generated names plus every name the files mention. (options are not kept by flavourctl,
// which decides nothing by a module's parameters: their lines are compared by being accepted.)
import assert from "node:assert/strict";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { lookup } from "../../src/modules/lookup.ts";
import { ModulesDir } from "../../src/modules/modules-dir.ts";
import { normalizeModuleName } from "../../src/modules/normalize.ts";
import { softdeps } from "../../src/modules/softdep.ts";
import { tempDir } from "../support/tmp.ts";
import { createRng, generateModaliases, instantiate, readModulesTree } from "./generate.ts";
import { KMOD_NAME, type Kmod, kmodConfig, kmodResolve, oracleTree } from "./oracle.ts";

/** The kmod release flavourctl is told to follow when compared with each libkmod. */
const RELEASE: Record<Kmod, number> = { host: 30, sid: 34 };

const VERSION = "6.12.117+deb12-amd64";
const DEBIAN = new URL("../fixtures/modprobe.d/debian-12", import.meta.url).pathname;

/** Files, latin1 text, under a fresh directory: paths ending in `/` are directories. */
function files(layout: Record<string, string>): string {
  const root = tempDir("modprobe-d");
  for (const [path, text] of Object.entries(layout)) {
    if (path.endsWith("/")) mkdirSync(join(root, path), { recursive: true });
    else {
      mkdirSync(join(root, path, ".."), { recursive: true });
      writeFileSync(join(root, path), text, "latin1");
    }
  }
  return root;
}

const CRAFTED = {
  "etc/10-aliases.conf": [
    "# aliases: globs, '-' and '_', brackets, one matching what modules.alias matches too",
    "alias pci:v00008086d000010D3sv*sd*bc*sc*i* my-e1000e-variant",
    "alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e",
    "alias pci:v00008086d*sv*sd*bc02sc00i* intel-nic",
    "alias net-pf-99 my_proto",
    "alias foo[ab]-bar bar-module",
    "alias foo[a-b]_x[!-]y bracket_mod",
    "alias vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio-vfio-pci",
    "alias usb:v1234p*d*dc*dsc*dp*ic*isc*ip*in* nosuchmod",
    "alias unbalanced-[ glob_bad",
    "alias\ttab-alias\t\ttabbed   ",
    "alias continued-\\",
    "alias cont_mod",
    "alias with\\ backslash module\\x",
    "alias onlyone",
    "  alias indented e1000e",
    "#alias commented e1000e",
    "alias ends-with-hash e1000e # trailing comment",
    "alias nul\0byte e1000e",
    "alias crlf e1000e\r",
    "alias e1000e e1000e_alias_of_a_module_name",
    "alias snd-pcm-* snd_pcm",
    "",
    "   ",
  ].join("\n"),
  "etc/20-other.conf": [
    "blacklist e1000e",
    "blacklist nouveau",
    "blacklist nouveau",
    "blacklist snd-pcsp",
    "blacklist",
    "options e1000e InterruptThrottleRate=3000,3000 debug=16",
    "options e1000e",
    "options snd-hda-intel\tmodel=auto\tprobe_mask=1",
    "install dummy0 /bin/true",
    "install my_proto /sbin/modprobe --ignore-install my_proto && echo hi",
    "install my_proto /bin/second",
    "remove my_proto /bin/false",
    "remove lonely-remove /bin/true",
    "install",
    "install no-command",
    "softdep e1000e pre: crc32c post: ptp",
    "softdep e1000e pre: never-used",
    "softdep snd* pre: soundcore post: snd-pcm snd-pcm-dmaengine",
    "softdep virtio_vfio_pci pre: vfio-pci virtio_pci",
    "softdep weird pre:\xa0a b",
    "softdep nvme\tpre:\tnvme-core\tpost:\t",
    "softdep nvme_core ignored pre: nvme-auth post:",
    "softdep lonely",
    "softdep vfio-pci pre: net-pf-99 foo[ab]-bar nosuchname",
    "include /etc/other.conf",
    "config foo",
    "frobnicate x",
    "frobnicate joined \\",
    "over two lines",
    "alias last-line-no-newline e1000e",
  ].join("\n"),
  "etc/override.conf": "blacklist from_etc\n",
  "etc/dir.conf/": "",
  "etc/.hidden.conf": "alias hidden e1000e\n",
  "etc/.conf": "alias dotconf e1000e\n",
  "etc/notes.txt": "alias notes e1000e\n",
  "etc/x.alias": "alias from-dot-alias e1000e\n",
  "lib/override.conf": "blacklist from_lib\n",
  "lib/aa-first.conf":
    "alias first-file e1000e\nalias pci:v00008086d000010D3sv*sd*bc*sc*i* aa_first_mod\nsoftdep e1000? post: mdio\n",
  "lib/dir.conf": "alias from-lib-dir-conf e1000e\n",
  "lib/zz-tail.conf": "alias tail-alias e1000e\\",
  "single/override.conf": "blacklist from_single\n",
};

interface Case {
  name: string;
  paths: (root: string) => string[];
}

const CASES: Case[] = [
  { name: "Debian 12's /lib/modprobe.d", paths: () => [cpDir(DEBIAN)] },
  {
    name: "crafted: etc, a missing run, lib",
    paths: (r) => [join(r, "etc"), join(r, "run"), join(r, "lib")],
  },
  {
    name: "crafted: a single file first, then lib and etc",
    paths: (r) => [join(r, "single/override.conf"), join(r, "lib"), join(r, "etc")],
  },
];

function cpDir(dir: string): string {
  const copy = join(tempDir("modprobe-d-copy"), "modprobe.d");
  cpSync(dir, copy, { recursive: true });
  return copy;
}

/** flavourctl's configuration in kmod-resolve --config's form (options left out: see above). */
function entriesOf(modules: ModulesDir): string[] {
  const config = modules.config;
  return [
    ...config.aliases.map((a) => `alias\t${a.pattern}\t${a.module}`),
    ...[...config.blacklist].map((b) => `blacklist\t${b}`),
    ...config.install.map((c) => `install\t${c.module}\t${c.command}`),
    ...config.remove.map((c) => `remove\t${c.module}\t${c.command}`),
    ...config.softdeps.map((s) => `softdep\t${s.module}`),
  ];
}

/** libkmod's, with options left out, the blacklist once per name, and the kernel command line's own entries left out. */
function kmodEntries(entries: string[]): string[] {
  const cmdline = readFileSync("/proc/cmdline", "latin1");
  const fromCmdline = new Set(
    [...cmdline.matchAll(/(?:^|\s)modprobe\.blacklist=(\S*)/g)].flatMap((m) => (m[1] as string).split(",")),
  );
  const seen = new Set<string>();
  return entries.filter((entry) => {
    if (entry.startsWith("options\t")) return false;
    if (!entry.startsWith("blacklist\t")) return true;
    const name = entry.slice("blacklist\t".length);
    if (seen.has(name) || fromCmdline.has(name)) return false;
    seen.add(name);
    return true;
  });
}

/**
 * The logical lines a reader refused, as `FILE:LINE` with LINE the logical line's first: libkmod
 * names a line joined by backslash-newline by its last physical line (getline_wrapped counts
 * the lines it read), flavourctl by its first.
 */
function refusedLines(lines: string[]): string[] {
  return lines
    .map((line) => /(\/\S+?)(?: line |:)(\d+): ignoring bad line/.exec(line))
    .filter((m) => m !== null)
    .map((m) => `${m[1]}:${firstLineOf(m[1] as string, Number(m[2]))}`)
    .sort();
}

/** The first physical line of the logical line that physical line N of FILE belongs to. */
function firstLineOf(file: string, n: number): number {
  const text = readFileSync(file, "latin1");
  let line = 1;
  let first = 1;
  for (let i = 0; i < text.length && line < n; i++) {
    if (text[i] === "\\") {
      if (text[i + 1] === "\n") line++;
      i++;
    } else if (text[i] === "\n") first = ++line;
  }
  return first;
}

for (const kmod of ["host", "sid"] as const)
  for (const c of CASES) {
    test(`modprobe.d equals ${KMOD_NAME[kmod]}: ${c.name}`, (t) => {
      const dir = oracleTree(VERSION, kmod);
      const paths = c.paths(files(CRAFTED));
      const modules = new ModulesDir(dir, { configPaths: paths, kmodRelease: () => RELEASE[kmod] });
      const config = modules.config;
      const tree = readModulesTree(dir);

      // every module the files or the tree's modules.softdep name, some glob-matched, some not
      const mentioned = new Set<string>();
      for (const s of config.softdeps) mentioned.add(s.module.replace(/[*?[\]]/g, "")).add(`${s.module}x`);
      for (const name of ["snd_pcm", "snd_hda_intel", "nvme", "nvme_core", "e1000e", "vfio_pci", "ext4"])
        mentioned.add(name);
      const rng = createRng(20_261_207);
      for (let i = 0; i < 200; i++) mentioned.add(rng.pick(tree.moduleNames));
      const names = [...mentioned].map(normalizeModuleName);

      const libkmod = kmodConfig(dir, paths, names, kmod);
      assert.deepEqual(entriesOf(modules), kmodEntries(libkmod.entries), "the configuration libkmod keeps");
      assert.deepEqual(refusedLines(config.warnings), refusedLines(libkmod.log), "the lines refused");

      const softdepDifferences = names.filter((name) => {
        const ours = softdeps(modules, name);
        return `${ours.pre.join(" ")}\t${ours.post.join(" ")}` !== libkmod.softdeps.get(name);
      });
      assert.deepEqual(
        softdepDifferences.map(
          (n) =>
            `${n}: flavourctl ${JSON.stringify(softdeps(modules, n))}, libkmod ${libkmod.softdeps.get(n)}`,
        ),
        [],
      );

      // lookups: generated names, instances of the files' alias patterns, every name they mention
      const inputs = generateModaliases(tree, { count: 5000, seed: 20_261_207 });
      for (const alias of config.aliases)
        for (let i = 0; i < 3; i++) inputs.push(instantiate(alias.pattern, rng));
      for (const entry of libkmod.entries) inputs.push(...(entry.split("\t")[1] ?? "").split(" "));
      for (const s of config.softdeps) inputs.push(...s.spec.split(/\s+/).filter((w) => w !== ""));
      const expected = kmodResolve(dir, inputs, paths, kmod);
      const differences: string[] = [];
      let failed = 0;
      let byConfig = 0;
      for (const [n, input] of inputs.entries()) {
        const result = lookup(modules, input);
        const got = result.errno ? `!${result.errno}` : result.matches.map((m) => m.module).join(" ");
        if (result.errno) failed++;
        if (result.stage === "modprobe.d alias" || result.stage === "install/remove command") byConfig++;
        if (got !== expected[n])
          differences.push(
            `${JSON.stringify(input.slice(0, 100))}: flavourctl '${got}', libkmod '${expected[n]}'`,
          );
      }
      t.diagnostic(
        `${c.name}: ${KMOD_NAME[kmod]}, ${libkmod.entries.length} entries, ${refusedLines(libkmod.log).length} lines refused, ` +
          `${names.length} modules' softdeps, ${inputs.length} lookups (${byConfig} answered by modprobe.d, ` +
          `${failed} failed), ${differences.length} differences`,
      );
      assert.deepEqual(differences.slice(0, 20), []);
    });
  }

// Where the two libkmods answer differently, each answer is shown against its own libkmod, and
// flavourctl told the other release would be wrong: kmod 33 stopped reading *.alias files,
// kmod 34 drops a backslash at the very end of a file (kmod 30 kept getc's EOF as 0xff).
test("modprobe.d where libkmod 30 and 34 differ: *.alias files, a backslash at the end of a file — flavourctl follows the release it is told", () => {
  const root = files({
    "etc/x.alias": "alias from-dot-alias e1000e\n",
    "etc/zz-tail.conf": "alias tail-alias e1000e\\",
  });
  const inputs = ["from-dot-alias", "tail-alias"];
  const answers: Record<Kmod, string[]> = { host: ["e1000e", "e1000e\xff"], sid: ["", "e1000e"] };
  const ours = (kmod: Kmod, release: number) => {
    const modules = new ModulesDir(oracleTree(VERSION, kmod), {
      configPaths: [join(root, "etc")],
      kmodRelease: () => release,
    });
    return inputs.map((input) =>
      lookup(modules, input)
        .matches.map((m) => m.module)
        .join(" "),
    );
  };
  for (const kmod of ["host", "sid"] as const) {
    assert.deepEqual(
      kmodResolve(oracleTree(VERSION, kmod), inputs, [join(root, "etc")], kmod),
      answers[kmod],
    );
    assert.deepEqual(ours(kmod, RELEASE[kmod]), answers[kmod], `told ${RELEASE[kmod]}`);
    const other = kmod === "host" ? RELEASE.sid : RELEASE.host;
    assert.notDeepEqual(ours(kmod, other), answers[kmod], `told ${other}`);
  }
});
